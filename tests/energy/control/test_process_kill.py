"""The controller process killed (SIGKILL) in the middle of its cycles, and started again.

The simulated district runs in the test process on free ports; `kv run --no-simulator` controls it
from a separate OS process with a site configuration pointing at those ports (short watchdogs,
lease and hold so the test takes seconds) and at weather and price services that do not answer. After the kill: nothing it had stored is lost, the
devices fall back to local mode on their own watchdogs, the second process waits for the lease,
holds one watchdog period without writing, then controls again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from connectors.simulated import SimulatedDistrict
from energy.control.timing import with_device_watchdogs
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.audit import read_audit
from energy.store.schema import measurements, setpoint_writes

pytestmark = pytest.mark.slow

WATCHDOG_S = 2.0
KV = Path(sys.executable).parent / "kv"


def _config(site: Site, path: Path) -> Path:
    data = site.config.model_dump(mode="json", exclude={"source_path"})
    data["control"].update(
        poll_interval_s=0.5,
        dispatch_interval_s=0.5,
        horizon_slots=16,
        stale_after_s=5.0,
        lease_ttl_s=3.0,
        restart_hold_s=WATCHDOG_S,
    )
    # no weather or price service answers (a closed local port): the loop plans on climatology
    # and the tariff's price file, with alarms
    data["weather"]["base_url"] = "http://127.0.0.1:9"
    data["prices"]["energy_charts_base_url"] = "http://127.0.0.1:9"
    path.write_text(yaml.safe_dump({"site": data}, sort_keys=False))
    return path


def _count(store: Store, table: object, *where: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def _actors(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {r[0] for r in conn.execute(select(setpoint_writes.c.actor).distinct())}


def _start(config: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KV_SECRET_KEY": "k" * 40, "KV_ADMIN_PASSWORD": "a-long-enough-secret"}
    return subprocess.Popen(
        [str(KV), "run", "--no-simulator", "--no-web", "--config", str(config), "--url", url],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )


async def _until(condition: Callable[[], bool], timeout_s: float) -> bool:
    for _ in range(int(timeout_s / 0.1)):
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


def test_a_killed_process_loses_nothing_and_its_successor_holds_first(
    tmp_path: Path, site: Site
) -> None:
    url = f"sqlite:///{tmp_path / 'kv.sqlite'}"
    store = Store.from_url(url)
    log = tmp_path / "kv-run.log"

    def remote(district: SimulatedDistrict) -> int:
        snapshot = district.physics.snapshot()
        return sum(1 for b in snapshot.batteries.values() if str(b.mode) == "remote")

    async def scenario() -> None:
        short = with_device_watchdogs(site, lambda _: WATCHDOG_S)
        async with SimulatedDistrict(short, free_ports=True, refresh_s=0.05) as district:
            config = _config(district.site, tmp_path / "site.yaml")
            first = _start(config, url, log)
            try:
                controlled = await _until(lambda: remote(district) > 0, 90)
                assert controlled, log.read_text()[-3000:]
                await asyncio.sleep(1.0)
            finally:
                first.send_signal(signal.SIGKILL)  # no release, no lease given up
                await asyncio.to_thread(first.wait, 10)
            stored = _count(store, measurements)
            writes = _count(store, setpoint_writes)
            assert stored > 0
            assert writes > 0
            # the devices return to local mode by themselves
            assert await _until(lambda: remote(district) == 0, 10)
            second = _start(config, url, log)
            try:
                assert await _until(lambda: remote(district) > 0, 90), log.read_text()[-3000:]
            finally:
                second.send_signal(signal.SIGTERM)  # a clean stop this time
                # wait in a thread: the district answers in this event loop meanwhile
                assert await asyncio.to_thread(second.wait, 30) == 0
            assert remote(district) == 0  # released at the stop, not by the watchdogs
            assert "release of" not in log.read_text()
        assert _count(store, measurements) >= stored  # nothing the killed process stored is lost
        acquired = [e for e in read_audit(store, limit=5000) if e["action"] == "lease.acquire"]
        assert len(acquired) == 2
        second_actor = acquired[0]["actor"]
        hold_until = dt.datetime.fromisoformat(acquired[0]["detail"]["hold_until"])
        with store.engine.connect() as conn:
            early = conn.execute(
                select(func.count())
                .select_from(setpoint_writes)
                .where(
                    setpoint_writes.c.actor == second_actor.replace("control", "dispatch"),
                    setpoint_writes.c.time < hold_until,
                )
            ).scalar_one()
        assert early == 0, "the successor wrote before its restart hold ended"
        assert len(_actors(store)) == 2
        # the feeds never answered: the plans that controlled the devices were made on
        # climatology and the tariff's price file, and say so
        open_codes = {a["code"] for a in list_alarms(store, site.id, open_only=True)}
        assert {"weather_fallback", "prices_missing"} <= open_codes

    asyncio.run(scenario())
    store.dispose()
