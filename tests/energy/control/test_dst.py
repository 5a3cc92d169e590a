"""The control loop on a clock crossing both DST changes of 2026: a plan every period, every slot
covered, nothing released for want of a plan (UTC inside; the local day has 92 or 100 slots)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from energy.control.dispatch import Dispatcher
from energy.control.planner import (
    BOOTSTRAP_MODEL_VERSION,
    LivePlanner,
    ProfileForecaster,
)
from energy.control.planning import PlanningCycle
from energy.physics.weather_feed import TryWeatherFeed
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.forecasts import read_latest_forecast
from energy.store.plans import list_plans
from optimizer import DispatchOptimizer

HORIZON = 8


@pytest.mark.slow
@pytest.mark.parametrize(
    "start",
    [
        # 2026-03-29: local 02:00 CET jumps to 03:00 CEST at 01:00 UTC
        dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC),
        # 2026-10-25: local 03:00 CEST falls back to 02:00 CET at 01:00 UTC
        dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_plans_and_dispatch_run_through_a_dst_change(
    store: Store,
    site: Site,
    writer: Any,
    measure: Callable[..., None],
    start: dt.datetime,
) -> None:
    cycle = PlanningCycle(
        site, DispatchOptimizer(site, horizon_slots=HORIZON), ProfileForecaster(site, HORIZON)
    )
    planner = LivePlanner(site, store, cycle, TryWeatherFeed(site), stale_after_s=30)
    dispatcher = Dispatcher(site, store, writer, stale_after_s=30)
    covered = []
    now = start + dt.timedelta(seconds=20)
    for _ in range(8):  # two hours around the change, one planning period at a time
        measure(now - dt.timedelta(seconds=5))
        outcome = planner.run(now)
        assert outcome.plan is not None, outcome.skipped
        assert outcome.release is not None
        assert outcome.release.approve, outcome.release.reason
        report = asyncio.run(dispatcher.dispatch_once(now + dt.timedelta(seconds=10)))
        assert report.plan is not None
        covered.append(report.plan.horizon_start)
        assert planner.run(now + dt.timedelta(minutes=5)).skipped  # once per period
        now += dt.timedelta(minutes=15)
    assert covered == [start + dt.timedelta(minutes=15 * i) for i in range(8)]
    assert len(list_plans(store, site.id, limit=100)) == 8
    assert not [a for a in list_alarms(store, site.id) if a["code"] == "no_valid_plan"]
    # every plan's forecast is stored with its issue time and model version
    issued = read_latest_forecast(store, "house-01:load_kw", now)
    assert set(issued["model_version"]) == {BOOTSTRAP_MODEL_VERSION}
    assert len(issued) == HORIZON
    battery_writes = [w for w in writer.writes if w[0] == "house-01.battery"]
    assert len(battery_writes) == 8
