"""§14a dimming from the control box against the simulated district, over Modbus TCP on loopback.

The control box's relay contact is a digital input of the simulated WAGO I/O module. Operator
overrides drive one large heat pump and two batteries above 4.2 kW (house 1's and a community
flow battery); closing the contact must
bring every one of them down to its share within the very next dispatch cycle (the registers of
the simulated devices hold the capped setpoints), leave devices rated below 4.2 kW alone, audit
the change, and make the next plan job plan again with the limit. A silent control box keeps the
limit for the failsafe duration, then lifts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from test_end_to_end import SteppedDistrict, planner
from test_faults import POLICY, timing

from connectors.simulated.faults import DeviceFaults
from energy.config import (
    CONTROL_BOX_ID,
    ControlBoxConfig,
    ControlBoxContact,
    DeviceEndpoint,
    GridSignalsConfig,
)
from energy.control.clock import ManualClock
from energy.control.runtime import ControlRuntime
from energy.control.state import read_site_state
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.audit import read_audit
from energy.store.controls import OverrideKind, add_override
from energy.store.plans import list_plans, read_plan_values
from energy.store.sites import sync_site

pytestmark = pytest.mark.slow

START = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)
BIG_HP = "house-01.hp"
#: operator setpoints above the §14a floor: heat pump power and battery charging, kW
FORCED_KW = {BIG_HP: 8.0, "house-01.battery": 5.0, "quartier-flow": 25.0}
#: under a dimming limit of 0 kW: four devices rated above 4.2 kW keep 4.2 kW each (the heat
#: pump of house 1, the battery of house 1, the flow battery, the carport's 11 kW EV charger),
#: the others their rating (heat pumps of houses 2-7: 17.8 kW, batteries of houses 2-7: 17.8 kW)
DEVICES_DIMMED_KW = 4 * 4.2 + 17.8 + 17.8


def dimmable_site(site: Site) -> Site:
    """The site with one 8 kW heat pump and a control box whose di_1 dims to 0 kW."""
    config = site.config
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
        for h in config.houses
    ]
    box = ControlBoxConfig(
        device=DeviceEndpoint(port=15190, unit_id=1, register_map="wago_750_352_io.yaml"),
        contacts=[
            ControlBoxContact(point="di_1", dimming_kw=0.0),
            ControlBoxContact(point="di_2", feed_in_kw=0.0),
        ],
    )
    signals = GridSignalsConfig(failsafe_h=2.0, control_box=box)
    return Site.from_config(config.model_copy(update={"houses": houses, "grid_signals": signals}))


def test_a_dimming_signal_reaches_every_affected_device_within_one_dispatch_cycle(
    sqlite_store: Store, community_site: Site
) -> None:
    store = sqlite_store
    site = community_site

    async def scenario() -> None:
        clock = ManualClock(START)
        district = SteppedDistrict(dimmable_site(site), clock, free_ports=True, refresh_s=0.05)
        await district.start()
        try:
            served = district.site
            sync_site(store, served)
            rt = ControlRuntime(
                served,
                store,
                clock=clock,
                timing=timing(stale_after_s=1000.0, lease_ttl_s=36000.0, restart_hold_s=0.0),
                instance="dimming",
                planner_factory=planner,
                poller_policy=POLICY,
            )
            for asset_id, kw in FORCED_KW.items():
                add_override(
                    store,
                    served.id,
                    asset_id,
                    OverrideKind.SETPOINT,
                    kw,
                    START + dt.timedelta(hours=6),
                    "operator",
                    START,
                )
            clock.set(START + dt.timedelta(seconds=5))
            district.tick()
            await rt.lease_job()
            await rt.poll_job()
            assert (await rt.plan_job()).outcome == "ok"
            assert (await rt.dispatch_job()).outcome == "ok"
            hp = district.device(BIG_HP)
            assert hp.value("power_setpoint_w") == pytest.approx(8000.0)
            assert district.device("quartier-flow").value("power_setpoint_kw") == pytest.approx(
                25.0
            )
            first_plan = list_plans(store, served.id, limit=1)[0]
            assert first_plan.summary["grid_limits"] == {"dimming": None, "feed_in": None}

            # the grid operator dims: one dispatch cycle later every device holds its share
            district.switch_inputs({"di_1": True})
            clock.set(START + dt.timedelta(seconds=10))
            assert (await rt.dispatch_job()).outcome == "ok"
            assert hp.value("power_setpoint_w") == pytest.approx(4200.0)
            assert district.device("house-01.battery").value("power_setpoint_w") == (
                pytest.approx(4200.0)
            )
            assert district.device("quartier-flow").value("power_setpoint_kw") == pytest.approx(4.2)
            commands = {c.asset_id: c for c in rt.last_dispatch.commands}  # type: ignore[union-attr]
            limited = {a for a, c in commands.items() if c.source == "limit"}
            # the EV charger is clamped too where its plan (or its release) would draw more
            assert set(FORCED_KW) <= limited <= {*FORCED_KW, "carport-ev"}
            charger = commands["carport-ev"].value
            assert charger is not None
            assert charger <= 4.2 + 1e-9
            assert rt.grid_signals is not None
            assert rt.grid_signals.changed
            dimming = rt.grid_signals.in_force.dimming
            assert dimming is not None
            assert dimming.source == "control_box:di_1"
            assert dimming.until is None  # while the contact is closed
            audit = [r for r in read_audit(store) if r["action"] == "grid_limit.in_force"]
            assert audit[-1]["detail"]["after"]["dimming"]["source"] == "control_box:di_1"

            # the planner plans again at once, with the limit
            clock.set(START + dt.timedelta(seconds=15))
            replan = await rt.plan_job()
            assert replan.outcome == "ok", replan.detail
            replanned = list_plans(store, served.id, limit=1)[0]
            assert replanned.id != first_plan.id
            assert replanned.summary["grid_limits"]["dimming"]["limit_kw"] == 0.0
            # its grid import stays within the household load plus the devices' shares
            values = read_plan_values(store, replanned.id)
            per_slot = values.pivot_table(
                index="slot_start", columns=["asset_id", "quantity"], values="value"
            )
            household = sum(per_slot[(h.id, "load_kw")] for h in served.houses)
            shares = rt.grid_signals.external_limits(  # type: ignore[union-attr]
                read_site_state(store, served, clock.now(), 1000.0)
            )
            assert shares is not None
            assert shares.dimming_kw == pytest.approx(DEVICES_DIMMED_KW)
            assert (per_slot[("grid", "import_kw")] <= household + shares.dimming_kw + 1e-6).all()

            # the control box falls silent: the limit holds for the failsafe's 2 h, then lifts
            district.set_faults(CONTROL_BOX_ID, DeviceFaults(no_response_probability=1.0))
            clock.set(START + dt.timedelta(hours=1))
            district.tick()
            await rt.poll_job()
            assert (await rt.dispatch_job()).outcome == "ok"
            kept = rt.grid_signals.in_force.dimming
            assert kept is not None
            assert kept.until == START + dt.timedelta(seconds=10, hours=2)
            assert hp.value("power_setpoint_w") == pytest.approx(4200.0)
            alarms = {(a["code"], a["source"]) for a in list_alarms(store, served.id)}
            assert ("grid_signal_lost", CONTROL_BOX_ID) in alarms
            clock.set(START + dt.timedelta(hours=2, seconds=11))
            district.tick()
            await rt.poll_job()
            assert (await rt.dispatch_job()).outcome == "ok"
            assert rt.grid_signals.in_force.dimming is None
            assert hp.value("power_setpoint_w") == pytest.approx(8000.0)
            await rt.stop("test end")
        finally:
            await district.stop()

    asyncio.run(scenario())
