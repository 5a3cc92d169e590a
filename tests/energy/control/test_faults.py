"""Fault injection against the simulated district over Modbus TCP.

Each case ends in a safe state (the device in local mode, by release or by its own watchdog), an
alarm, an audit trail that says what happened, and nothing stored lost. The control loop runs on
a ManualClock that the test moves; the district's physics runs on wall time (speed 1) with device
watchdogs of WATCHDOG_S wall seconds, so a device left alone falls back within the test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from connectors.simulated import DeviceFaults, SimulatedDistrict
from energy.control.clock import ManualClock
from energy.control.commands import CommandKind
from energy.control.planner import LivePlanner, ProfileForecaster
from energy.control.planning import PlanningCycle
from energy.control.runtime import ControlRuntime
from energy.control.timing import LoopTiming, with_device_watchdogs
from energy.physics.weather_feed import TryWeatherFeed
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.audit import read_audit
from energy.store.plans import PlanState, get_plan, list_plans
from energy.store.schema import measurements, setpoint_writes
from energy.store.sites import sync_site
from optimizer import DispatchOptimizer
from optimizer.highs_backend import HighsBackend, SolverError

pytestmark = pytest.mark.slow

T0 = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
WATCHDOG_S = 2.0
HORIZON = 8
POLICY = {"timeout_s": 0.3, "retries": 0, "stale_after_failures": 2, "breaker_open_s": 0.5}


def small_planner(site: Site, store: Store, timing: LoopTiming) -> LivePlanner:
    optimizer = DispatchOptimizer(site, horizon_slots=HORIZON)
    cycle = PlanningCycle(site, optimizer, ProfileForecaster(site, HORIZON), HORIZON)
    return LivePlanner(site, store, cycle, TryWeatherFeed(site), timing.stale_after_s)


def timing(**changes: float) -> LoopTiming:
    values: dict[str, float] = {
        "speed": 1.0,
        "poll_wall_s": 0.2,
        "dispatch_wall_s": 0.2,
        "plan_check_wall_s": 1.0,
        "lease_wall_s": 1.0,
        "plan_interval_s": 900.0,
        "stale_after_s": 20.0,
        "lease_ttl_s": 30.0,
        "restart_hold_s": 0.0,
    }
    values.update(changes)
    return LoopTiming(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def district_of(site: Site) -> AsyncIterator[SimulatedDistrict]:
    short = with_device_watchdogs(site, lambda _: WATCHDOG_S)
    district = SimulatedDistrict(short, start=T0, free_ports=True, refresh_s=0.05)
    await district.start()
    try:
        yield district
    finally:
        await district.stop()


def runtime(
    district: SimulatedDistrict,
    store: Store,
    clock: ManualClock,
    instance: str = "a",
    **timing_changes: float,
) -> ControlRuntime:
    sync_site(store, district.site)
    return ControlRuntime(
        district.site,
        store,
        clock=clock,
        timing=timing(**timing_changes),
        instance=instance,
        planner_factory=small_planner,
        poller_policy=POLICY,
    )


async def cycles(rt: ControlRuntime, clock: ManualClock, n: int, step_s: float = 1.0) -> None:
    """n rounds of lease + poll + dispatch, the site clock moving step_s per round."""
    for _ in range(n):
        await rt.lease_job()
        await rt.poll_job()
        await rt.dispatch_job()
        clock.advance(step_s)
        await asyncio.sleep(0.05)


async def controlling(rt: ControlRuntime, clock: ManualClock) -> None:
    """Lease, state, a plan (auto-released), and the devices under remote control."""
    assert (await rt.lease_job()).outcome == "ok"
    for _ in range(20):  # connections open on the first polls
        await rt.poll_job()
        if rt.last_poll is not None and not rt.last_poll.failed():
            break
        clock.advance(0.5)
        await asyncio.sleep(0.1)
    outcome = await rt.plan_job()
    assert outcome.outcome == "ok", outcome.detail
    await cycles(rt, clock, 2)


def modes(district: SimulatedDistrict) -> dict[str, str]:
    snapshot = district.physics.snapshot()
    found = {a: str(b.mode) for a, b in snapshot.batteries.items()}
    found.update({a: str(h.mode) for a, h in snapshot.heat_pumps.items()})
    return found


async def wait_for(condition: Callable[[], bool], timeout_s: float = 6.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def alarm_codes(store: Store, site: Site) -> set[tuple[str, str]]:
    return {(a["code"], a["source"]) for a in list_alarms(store, site.id)}


def writes_by(store: Store, actor_asset: str) -> list[Any]:
    with store.engine.connect() as conn:
        return conn.execute(
            select(setpoint_writes).where(setpoint_writes.c.asset_id == actor_asset)
        ).all()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_a_device_that_times_out_is_released_and_alarmed(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            rt = runtime(district, store, clock)
            await controlling(rt, clock)
            assert modes(district)["house-01.battery"] == "remote"
            district.set_faults("house-01.battery", DeviceFaults(no_response_probability=1.0))
            await cycles(rt, clock, 4)
            report = rt.last_dispatch
            assert "house-01.battery" in report.stale
            # the release could not be sent (the device does not answer): its watchdog does it
            assert await wait_for(lambda: modes(district)["house-01.battery"] == "local")
            # the others stay under the plan: not stale, and in the mode their command asks for
            other = next(c for c in report.commands if c.asset_id == "house-02.battery")
            planned_mode = "local" if other.kind == CommandKind.RELEASE_TO_LOCAL else "remote"
            assert "house-02.battery" not in report.stale
            assert modes(district)["house-02.battery"] == planned_mode
            codes = alarm_codes(store, site)
            assert ("stale_input", "house-01.battery") in codes
            assert ("write_failed", "house-01.battery") in codes
            await rt.stop("test over")
        stale_rows = [w for w in writes_by(store, "house-01.battery") if w.outcome != "ok"]
        assert stale_rows, "the failed release attempt is on record"

    run(scenario)


def test_a_device_returning_garbage_is_not_controlled(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            rt = runtime(district, store, clock)
            await controlling(rt, clock)
            # a state of charge of 250 % is outside the register map's range: INVALID
            district.set_faults("house-02.battery", DeviceFaults(values={"soc": 250}))
            await asyncio.sleep(0.2)
            await cycles(rt, clock, 2)
            assert "house-02.battery" in rt.last_dispatch.stale
            assert "INVALID" in rt.last_dispatch.stale["house-02.battery"]
            # the device answers, so the release is written (once) and confirmed
            releases = [
                w for w in writes_by(store, "house-02.battery") if w.point == "control_mode"
            ]
            assert [(w.written, w.outcome) for w in releases] == [(0.0, "ok")]
            assert modes(district)["house-02.battery"] == "local"
            assert ("stale_input", "house-02.battery") in alarm_codes(store, site)
            await rt.stop("test over")

    run(scenario)


def test_a_solver_failure_keeps_the_running_plan_until_it_expires(
    sqlite_store: Store, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            rt = runtime(district, store, clock)
            await controlling(rt, clock)
            running = rt.last_dispatch.plan
            assert running is not None

            def broken(self: HighsBackend, relax: bool = False) -> Any:
                raise SolverError("HiGHS: simulated solver crash")

            monkeypatch.setattr(HighsBackend, "run", broken)
            clock.advance(15 * 60)  # the next planning period
            await cycles(rt, clock, 1)
            outcome = await rt.plan_job()
            assert outcome.outcome == "ok"
            newest = list_plans(store, site.id, limit=1)[0]
            assert newest.solver_status == "fallback"
            assert newest.state is PlanState.PROPOSED  # never dispatched as if optimal
            assert ("solver_fallback", "plan") in alarm_codes(store, site)
            await cycles(rt, clock, 1)
            assert rt.last_dispatch.plan.id == running.id  # the running plan stays
            # past its horizon the plan never runs: every device is released to local mode
            clock.set(running.horizon_end + dt.timedelta(seconds=1))
            await cycles(rt, clock, 2)
            assert rt.last_dispatch.plan is None
            assert get_plan(store, running.id).state is PlanState.EXPIRED
            assert set(modes(district).values()) == {"local"}
            assert ("no_valid_plan", "dispatch") in alarm_codes(store, site)
            await rt.stop("test over")
        actions = [e["action"] for e in read_audit(store, limit=1000)]
        assert "plan.expire" in actions

    run(scenario)


def test_the_store_unavailable_for_a_while_loses_nothing(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            rt = runtime(district, store, clock)
            await controlling(rt, clock)
            healthy = store.engine
            store.engine = create_engine("sqlite:////nonexistent-directory/kv.sqlite")
            outage_start = clock.now()
            try:
                await cycles(rt, clock, 3)
                assert rt.spool.rows() > 0  # polled while the store was gone, spooled on disk
                # the dispatcher could not read the plan: every device released, unrecorded
                assert set(modes(district).values()) == {"local"}
            finally:
                store.engine.dispose()
                store.engine = healthy
            outage_end = clock.now()
            await cycles(rt, clock, 2)
            assert rt.spool.empty
            await rt.stop("test over")
        with store.engine.connect() as conn:
            during = conn.execute(
                select(func.count())
                .select_from(measurements)
                .where(measurements.c.time >= outage_start, measurements.c.time < outage_end)
            ).scalar_one()
        assert during > 0, "measurements polled during the outage were stored afterwards"
        assert ("store_unavailable", "a") in alarm_codes(store, site)
        actions = {e["action"] for e in read_audit(store, limit=1000)}
        assert {"store.outage", "dispatch.offline_release"} <= actions
        offline = [
            w
            for w in writes_by(store, "house-01.battery")
            if "store was unavailable" in (w.detail or "")
        ]
        assert len(offline) == 1  # released once for the outage, not every cycle

    run(scenario)


def test_a_killed_controller_is_taken_over_after_the_lease_and_a_hold(
    sqlite_store: Store, site: Site
) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            first = runtime(district, store, clock, instance="first")
            await controlling(first, clock)
            with store.engine.connect() as conn:
                stored_before = conn.execute(
                    select(func.count()).select_from(measurements)
                ).scalar_one()
            # killed in the middle of a cycle: a dispatch is cancelled half-way, nothing is
            # released, the lease is not given up
            task = asyncio.create_task(first.dispatch_job())
            await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            killed_at = clock.now()
            second = runtime(
                district, store, clock, instance="second", restart_hold_s=WATCHDOG_S * 5
            )
            assert (await second.lease_job()).outcome == "skipped"  # the dead one's lease
            # the devices fall back to local mode on their own watchdogs
            assert await wait_for(lambda: set(modes(district).values()) == {"local"})
            clock.advance(31)  # the lease expires
            assert (await second.lease_job()).outcome == "ok"
            assert second.holding(clock.now())
            await cycles(second, clock, 3)  # holding: polls, no writes
            with store.engine.connect() as conn:
                by_second = conn.execute(
                    select(func.count())
                    .select_from(setpoint_writes)
                    .where(setpoint_writes.c.time > killed_at)
                ).scalar_one()
            assert by_second == 0
            clock.advance(WATCHDOG_S * 5)
            await second.plan_job()
            await cycles(second, clock, 2)
            assert modes(district)["house-01.battery"] == "remote"
            await second.stop("test over")
            await first.poller.close()
        with store.engine.connect() as conn:
            stored_after = conn.execute(select(func.count()).select_from(measurements)).scalar_one()
        assert stored_after > stored_before
        actions = [e["action"] for e in read_audit(store, limit=1000)]
        assert actions.count("lease.acquire") == 2

    run(scenario)


def test_stopping_releases_every_device_and_the_lease(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            rt = runtime(district, store, clock)
            await controlling(rt, clock)
            assert "remote" in modes(district).values()
            problems = await rt.stop("operator stop")
            assert problems == {}
            assert set(modes(district).values()) == {"local"}
            other = runtime(district, store, clock, instance="b")
            assert (await other.lease_job()).outcome == "ok"  # free at once, no TTL wait
            await other.stop("test over")
        stops = [e for e in read_audit(store, limit=1000) if e["action"] == "control.stop"]
        assert {"operator stop", "test over"} == {e["detail"]["reason"] for e in stops}

    run(scenario)
