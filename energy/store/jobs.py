"""Job runs: every scheduled job records its start, end, outcome and reason, for operators."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from energy.store.engine import Store
from energy.store.schema import job_runs
from energy.store.sql import inserted_id

__all__ = ["finish_job_run", "job_status", "start_job_run"]


def start_job_run(store: Store, site_id: str, job: str, instance: str, now: dt.datetime) -> int:
    with store.engine.begin() as conn:
        return inserted_id(
            conn.execute(
                job_runs.insert().values(
                    site_id=site_id, job=job, instance=instance, started_at=now, outcome="running"
                )
            )
        )


def finish_job_run(
    store: Store,
    run_id: int,
    outcome: str,
    now: dt.datetime,
    detail: str | None = None,
    wall_duration_s: float | None = None,
) -> None:
    """outcome: 'ok', 'failed' or 'skipped' (with detail saying why).

    wall_duration_s: how long the run took in wall seconds. started_at and finished_at are on the
    platform's clock, which an accelerated simulation runs faster than the wall."""
    with store.engine.begin() as conn:
        conn.execute(
            update(job_runs)
            .where(job_runs.c.id == run_id)
            .values(
                outcome=outcome, finished_at=now, detail=detail, wall_duration_s=wall_duration_s
            )
        )


def job_status(store: Store, site_id: str) -> dict[str, dict[str, Any]]:
    """The newest run of every job of a site, plus the newest failure if there was one."""
    newest = (
        select(job_runs.c.job, func.max(job_runs.c.id).label("id"))
        .where(job_runs.c.site_id == site_id)
        .group_by(job_runs.c.job)
        .subquery()
    )
    failed = (
        select(job_runs.c.job, func.max(job_runs.c.id).label("id"))
        .where(job_runs.c.site_id == site_id, job_runs.c.outcome == "failed")
        .group_by(job_runs.c.job)
        .subquery()
    )
    with store.engine.connect() as conn:
        last = {
            r.job: dict(r._mapping)
            for r in conn.execute(select(job_runs).join(newest, job_runs.c.id == newest.c.id))
        }
        fails = {
            r.job: dict(r._mapping)
            for r in conn.execute(select(job_runs).join(failed, job_runs.c.id == failed.c.id))
        }
    return {job: {"last": run, "last_failure": fails.get(job)} for job, run in last.items()}
