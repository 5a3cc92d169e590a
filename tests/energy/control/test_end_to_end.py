"""End to end: the platform controls the simulated Klimaviertel through Modbus TCP for a day.

The district's physics follows the test's clock (a SimulatedDistrict whose clock is the control
loop's ManualClock), so a simulated day runs as fast as the loop can go: every slot is planned
(model predictive control, auto-released), dispatched and polled at its start. Mid-slot the
physics must show each battery under a setpoint at its planned power and each continuous heat
pump at its commanded power, within tolerance (a battery whose plan is plain self-consumption is
handed to its local mode by commands_for_slot). When the platform stops, every device is back in
local mode.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
from test_faults import POLICY, timing

from connectors.simulated import SimulatedDistrict
from energy.config import HeatPumpControl
from energy.control.clock import ManualClock
from energy.control.commands import CommandKind
from energy.control.planner import LivePlanner, ProfileForecaster
from energy.control.planning import PlanningCycle
from energy.control.runtime import ControlRuntime
from energy.control.timing import LoopTiming, with_device_watchdogs
from energy.physics.weather_feed import TryWeatherFeed
from energy.site import AssetKind, Site
from energy.store import Store
from energy.store.plans import read_plan_values
from energy.store.sites import sync_site
from optimizer import DispatchOptimizer

pytestmark = pytest.mark.slow

DAY_START = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
SLOTS = int(os.environ.get("E2E_SLOTS", "96"))
HORIZON = 32


class SteppedDistrict(SimulatedDistrict):
    """The simulated district on the test's clock instead of wall time."""

    def __init__(self, site: Site, clock: ManualClock, **kwargs: object):
        super().__init__(site, start=clock.now(), **kwargs)  # type: ignore[arg-type]
        self._manual = clock

    def clock(self) -> pd.Timestamp:
        return pd.Timestamp(self._manual.now())


def planner(site: Site, store: Store, timing: LoopTiming) -> LivePlanner:
    cycle = PlanningCycle(
        site, DispatchOptimizer(site, horizon_slots=HORIZON), ProfileForecaster(site, HORIZON)
    )
    return LivePlanner(site, store, cycle, TryWeatherFeed(site), timing.stale_after_s)


def test_a_simulated_day_follows_the_approved_plans(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store
    long_watchdogs = with_device_watchdogs(site, lambda _: 1200.0)
    batteries = [a.id for a in site.of_kind(AssetKind.BATTERY)]
    continuous = [
        a.id
        for a in site.of_kind(AssetKind.HEAT_PUMP)
        if a.params.control is HeatPumpControl.CONTINUOUS  # type: ignore[union-attr]
    ]
    battery_error: list[float] = []
    battery_scale: list[float] = []
    hp_error: list[float] = []

    async def scenario() -> set[str]:
        clock = ManualClock(DAY_START)
        district = SteppedDistrict(long_watchdogs, clock, free_ports=True, refresh_s=0.05)
        await district.start()
        try:
            sync_site(store, district.site)
            rt = ControlRuntime(
                district.site,
                store,
                clock=clock,
                timing=timing(stale_after_s=1000.0, lease_ttl_s=3600.0, restart_hold_s=0.0),
                instance="e2e",
                planner_factory=planner,
                poller_policy=POLICY,
            )
            await rt.lease_job()
            for k in range(SLOTS):
                slot = DAY_START + dt.timedelta(minutes=15 * k)
                clock.set(slot + dt.timedelta(seconds=5))
                district.tick()
                await rt.lease_job()
                await rt.poll_job()
                outcome = await rt.plan_job()
                assert outcome.outcome == "ok", outcome.detail
                report = await rt.dispatch_job()
                assert report.outcome == "ok", report.detail
                # mid-slot: what the devices do against what the plan asked
                clock.set(slot + dt.timedelta(seconds=600))
                district.tick()
                dispatched = rt.last_dispatch
                assert dispatched is not None
                assert dispatched.plan is not None, f"no plan at {slot.isoformat()}"
                values = read_plan_values(store, dispatched.plan.id)
                at = values[values["slot_start"] == pd.Timestamp(slot)]
                planned = {
                    a: v
                    for a, q, v in zip(at["asset_id"], at["quantity"], at["value"], strict=False)
                    if q == "power_kw"
                }
                snapshot = district.physics.snapshot()
                commanded = {c.asset_id: c for c in dispatched.commands}
                for battery in batteries:
                    if commanded[battery].kind is not CommandKind.BATTERY_POWER_KW:
                        continue  # planned as self-consumption: the local mode does it
                    measured = snapshot.batteries[battery].power_kw
                    battery_error.append(abs(measured - planned.get(battery, 0.0)))
                    config = site.asset(battery).params
                    battery_scale.append(config.charge_max_kw)  # type: ignore[union-attr]
                commanded = {
                    c.asset_id: c.value
                    for c in dispatched.commands
                    if c.kind is CommandKind.HEAT_PUMP_POWER_KW
                }
                for hp in continuous:
                    if hp in commanded:
                        measured = snapshot.heat_pumps[hp].electric_power_kw
                        hp_error.append(abs(measured - float(commanded[hp] or 0.0)))
            await rt.stop("end of the simulated day")
            district.tick()
            snapshot = district.physics.snapshot()
            return {str(b.mode) for b in snapshot.batteries.values()} | {
                str(h.mode) for h in snapshot.heat_pumps.values()
            }
        finally:
            await district.stop()

    modes_after = asyncio.run(scenario())
    assert modes_after == {"local"}
    assert len(battery_error) >= SLOTS  # batteries were under setpoint control through the day
    errors = np.asarray(battery_error)
    tolerance = 0.05 * np.asarray(battery_scale) + 0.1
    following = float(np.mean(errors <= tolerance))
    assert following >= 0.9, f"batteries at their planned power in {following:.0%} of slots"
    assert len(hp_error) >= SLOTS  # continuous heat pumps were commanded through the day
    hp_following = float(np.mean(np.asarray(hp_error) <= 0.15))
    assert hp_following >= 0.8, f"heat pumps at their command in {hp_following:.0%} of slots"
