"""The scheduled jobs for real (APScheduler): a job that fails every time is recorded and alarmed
while the others keep running; stopping releases the devices."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from test_faults import POLICY, district_of, modes, timing

from energy.control.clock import ScaledClock
from energy.control.planner import LivePlanner
from energy.control.runtime import ControlRuntime
from energy.control.timing import LoopTiming
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.schema import job_runs
from energy.store.sites import sync_site

pytestmark = pytest.mark.slow


def broken_planner(site: Site, store: Store, timing: LoopTiming) -> LivePlanner:
    raise RuntimeError("solver library missing: highspy could not be loaded")


def test_a_failing_job_never_stops_the_scheduler(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            sync_site(store, district.site)
            clock = ScaledClock(district.clock().to_pydatetime(warn=False), 1.0)
            rt = ControlRuntime(
                district.site,
                store,
                clock=clock,
                timing=timing(speed=2.0, plan_check_wall_s=0.5, stale_after_s=10.0),
                instance="sched",
                planner_factory=broken_planner,
                poller_policy=POLICY,
            )
            await rt.start()
            await asyncio.sleep(3.0)
            assert rt.scheduler is not None
            assert rt.scheduler.running
            await rt.stop("test over")
            assert set(modes(district).values()) == {"local"}

    asyncio.run(scenario())
    with store.engine.connect() as conn:
        runs = conn.execute(select(job_runs.c.job, job_runs.c.outcome, job_runs.c.detail)).all()
    outcomes = {(r.job, r.outcome) for r in runs}
    assert ("plan", "failed") in outcomes
    assert ("poll", "ok") in outcomes
    assert ("dispatch", "ok") in outcomes
    assert sum(1 for r in runs if r.job == "plan") >= 2  # retried, every failure on record
    reasons = {r.detail for r in runs if r.job == "plan"}
    assert any("highspy could not be loaded" in (d or "") for d in reasons)
    alarm = next(a for a in list_alarms(store, site.id) if a["code"] == "job_failed")
    assert alarm["source"] == "plan"
