"""§14a dimming: from the control box's contact to every device's register (prints, asserts nothing).

The default site with one heat pump enlarged to 8 kW (every shipped heat pump is rated below
4.2 kW, so §14a never dims them), a control box whose contact di_1 dims the controllable devices
to 0 kW (each keeps 4.2 kW), operator overrides driving that heat pump and three batteries above
4.2 kW, all against the simulated district over Modbus TCP on loopback. Each round closes (or
opens) the contact and times one dispatch job: the control box read, the limits shared, every
device written through the single write path with read-back. In the scheduled loop the contact
may change just after a cycle began: add up to one dispatch interval (5 s) for the worst case.

    .venv/bin/python bench/dimming_latency.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from connectors.simulated import SimulatedDistrict
from energy.config import ControlBoxConfig, ControlBoxContact, DeviceEndpoint, GridSignalsConfig
from energy.control.clock import WallClock
from energy.control.runtime import ControlRuntime
from energy.control.timing import LoopTiming
from energy.site import Site, load_site
from energy.store import Store
from energy.store.controls import OverrideKind, add_override
from energy.store.sites import sync_site

#: operator setpoints above the §14a floor of 4.2 kW: heat pump, battery charging, EV charging
FORCED_KW = {"house-01.hp": 8.0, "house-01.battery": 5.0, "carport-ev": 11.0}


def dimmable_site() -> Site:
    site = load_site()
    houses = [
        h.model_copy(
            update={
                "heat_pump": h.heat_pump.model_copy(  # type: ignore[union-attr]
                    update={"electric_max_kw": 8.0, "thermal_max_kw": 24.0}
                )
            }
        )
        if h.id == "house-01"
        else h
        for h in site.config.houses
    ]
    box = ControlBoxConfig(
        device=DeviceEndpoint(port=15190, register_map="wago_750_352_io.yaml"),
        contacts=[ControlBoxContact(point="di_1", dimming_kw=0.0)],
    )
    config = site.config.model_copy(
        update={"houses": houses, "grid_signals": GridSignalsConfig(control_box=box)}
    )
    return Site.from_config(config)


async def run(rounds: int) -> None:
    site = dimmable_site()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KV_DATA_DIR"] = str(Path(tmp) / "data")
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        store.upgrade()
        sync_site(store, site)
        async with SimulatedDistrict(site, free_ports=True) as district:
            served = district.site
            timing = LoopTiming.for_site(served)
            timing = type(timing)(**{**timing.__dict__, "restart_hold_s": 0.0})
            runtime = ControlRuntime(served, store, clock=WallClock(), timing=timing)
            now = dt.datetime.now(dt.UTC)
            for asset_id, kw in FORCED_KW.items():
                until = now + dt.timedelta(hours=1)
                add_override(
                    store, served.id, asset_id, OverrideKind.SETPOINT, kw, until, "bench", now
                )
            await runtime.lease_job()
            await runtime.poll_job()
            await runtime.dispatch_job()
            closed: list[float] = []
            opened: list[float] = []
            hp = district.device("house-01.hp")
            for k in range(rounds):
                dim = k % 2 == 0
                district.switch_inputs({"di_1": dim})
                started = time.perf_counter()
                outcome = await runtime.dispatch_job()
                elapsed = time.perf_counter() - started
                expected_w = 4200.0 if dim else 8000.0
                if outcome.outcome != "ok" or hp.value("power_setpoint_w") != expected_w:
                    print(f"round {k}: {outcome.outcome} {outcome.detail}; hp setpoint "
                          f"{hp.value('power_setpoint_w')} W, expected {expected_w}")  # fmt: skip
                (closed if dim else opened).append(elapsed)
                await runtime.poll_job()
            await runtime.stop("bench end")
    for name, values in (
        ("contact closed -> dimmed", closed),
        ("contact opened -> lifted", opened),
    ):
        print(
            f"{name}: n={len(values)} median {statistics.median(values) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms (one dispatch job, wall clock)"
        )
    print(f"load average: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
