"""Job runs: failures are recorded with their reason and alarmed, never raised; store outages
are recorded once the store is back."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import create_engine, select

from energy.control.clock import ManualClock
from energy.control.jobs import JobRunner, Skipped
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.audit import read_audit
from energy.store.schema import job_runs

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _runs(store: Store) -> list[tuple[str, str, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(job_runs.c.job, job_runs.c.outcome, job_runs.c.detail).order_by(job_runs.c.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _runner(store: Store, site: Site, **kwargs: object) -> JobRunner:
    clock = ManualClock(T0)
    return JobRunner(store, site.id, "test-instance", clock.now, **kwargs)  # type: ignore[arg-type]


async def _ok() -> str:
    return "did it"


async def _boom() -> str:
    raise ValueError("register 1101 of house-01.battery: expected int32, found 3 bytes")


async def _idle() -> str:
    raise Skipped("standby: not the lease holder")


def test_a_failure_is_recorded_alarmed_and_cleared_by_the_next_success(
    store: Store, site: Site
) -> None:
    runner = _runner(store, site)
    outcome = asyncio.run(runner.run("plan", _boom))
    assert outcome.outcome == "failed"
    assert "register 1101 of house-01.battery" in outcome.detail
    assert _runs(store)[-1][:2] == ("plan", "failed")
    alarm = next(a for a in list_alarms(store, site.id) if a["code"] == "job_failed")
    assert alarm["source"] == "plan"
    assert "ValueError" in alarm["message"]
    assert asyncio.run(runner.run("plan", _ok)).outcome == "ok"
    assert _runs(store)[-1] == ("plan", "ok", "did it")
    assert not [a for a in list_alarms(store, site.id) if a["code"] == "job_failed"]


def test_a_skipped_run_is_recorded_with_its_reason(store: Store, site: Site) -> None:
    outcome = asyncio.run(_runner(store, site).run("dispatch", _idle))
    assert outcome.outcome == "skipped"
    assert _runs(store) == [("dispatch", "skipped", "standby: not the lease holder")]


def test_frequent_jobs_record_changes_and_failures_not_every_run(store: Store, site: Site) -> None:
    runner = _runner(store, site, frequent=frozenset({"poll"}), heartbeat_s=3600)

    async def scenario() -> None:
        for body in (_ok, _ok, _ok, _boom, _boom, _ok, _ok):
            await runner.run("poll", body)

    asyncio.run(scenario())
    assert [r[1] for r in _runs(store)] == ["ok", "failed", "failed", "ok"]


def test_a_store_outage_is_survived_and_recorded_when_the_store_returns(
    sqlite_store: Store, site: Site, tmp_path: object
) -> None:
    store = sqlite_store
    runner = _runner(store, site)
    healthy = store.engine
    store.engine = create_engine("sqlite:////nonexistent-directory/kv.sqlite")
    try:
        outcome = asyncio.run(runner.run("plan", _ok))
    finally:
        store.engine.dispose()
        store.engine = healthy
    assert outcome.outcome == "ok"  # the job itself did not need the store
    assert runner.outage is not None
    asyncio.run(runner.run("plan", _ok))
    assert runner.outage is None
    alarm = next(a for a in list_alarms(store, site.id) if a["code"] == "store_unavailable")
    assert "store unavailable from" in alarm["message"]
    assert [e for e in read_audit(store) if e["action"] == "store.outage"]


@pytest.mark.parametrize("job", ["poll", "plan"])
def test_the_runner_never_raises(store: Store, site: Site, job: str) -> None:
    async def crash() -> str:
        raise RuntimeError("anything at all")

    assert asyncio.run(_runner(store, site).run(job, crash)).outcome == "failed"
