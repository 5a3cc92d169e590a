"""Running a scheduled job so that a failure is recorded, shown and never stops the scheduler.

`JobRunner.run(name, body)` records the run in job_runs (start, end, outcome ok / skipped / failed
with its reason), raises a `job_failed` alarm for operators when it fails and clears it when the
job succeeds again. It never raises: the scheduler keeps running whatever a job does.

When the store itself is unavailable, the run cannot be recorded; the runner logs it, remembers
the outage (start time and the first error) in memory and, once the store answers again, writes
one `store_unavailable` alarm and an audit entry saying from when to when it was gone.
Measurements polled during the outage are kept by the poll job's buffer (energy.control.runtime).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from energy.alarm_texts import alarm_text
from energy.control.metrics import observe_job_run
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.audit import append_audit
from energy.store.engine import Store
from energy.store.jobs import finish_job_run, start_job_run

__all__ = ["JobOutcome", "JobRunner", "Skipped"]

log = logging.getLogger(__name__)


class Skipped(Exception):  # noqa: N818 - a job outcome, not an error
    """Raised by a job body that had nothing to do; the reason is recorded."""


@dataclass(frozen=True)
class JobOutcome:
    job: str
    outcome: str  # ok, skipped, failed
    detail: str = ""
    wall_duration_s: float | None = None


@dataclass
class _Outage:
    since: dt.datetime
    error: str
    job: str


class JobRunner:
    """Runs job bodies for one controller instance of one site (see module docstring)."""

    def __init__(
        self,
        store: Store,
        site_id: str,
        instance: str,
        now: Callable[[], dt.datetime],
        frequent: frozenset[str] = frozenset(),
        heartbeat_s: float = 60.0,
    ):
        self.store = store
        self.site_id = site_id
        self.instance = instance
        self.now = now
        self.frequent = frequent
        self.heartbeat_s = heartbeat_s
        self.outage: _Outage | None = None
        self._last: dict[str, tuple[str, float]] = {}
        #: jobs running now
        self.in_flight: set[str] = set()

    async def run(self, job: str, body: Callable[[], Awaitable[str | None]]) -> JobOutcome:
        """Run one job; `body` returns an optional detail, raises Skipped or fails.

        Every run of a job listed in `frequent` is recorded only when its outcome changes, when it
        fails, or at least every `heartbeat_s` wall seconds, so a 5-second job does not write
        17 280 rows a day; every run of the other jobs is recorded.
        """
        started = self.now()
        wall_start = time.monotonic()
        self.in_flight.add(job)
        try:
            detail = await body()
            outcome = JobOutcome(job, "ok", detail or "")
        except Skipped as exc:
            outcome = JobOutcome(job, "skipped", str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a job never stops the scheduler
            reason = f"{type(exc).__name__}: {exc}"
            store_down = isinstance(exc, SQLAlchemyError)
            # once an outage is noted, each failing 5-second job would log it again
            level = logging.DEBUG if store_down and self.outage is not None else logging.ERROR
            log.log(level, "job %s failed: %s", job, reason, exc_info=not store_down)
            outcome = JobOutcome(job, "failed", reason)
            if store_down:
                self.note_outage(job, reason)
        finally:
            self.in_flight.discard(job)
        outcome = dataclasses.replace(outcome, wall_duration_s=time.monotonic() - wall_start)
        observe_job_run(job, outcome.outcome, outcome.wall_duration_s or 0.0)
        if self._should_record(job, outcome):
            await self._store_call(job, self._record, started, outcome)
        return outcome

    def _should_record(self, job: str, outcome: JobOutcome) -> bool:
        previous = self._last.get(job)
        wall = time.monotonic()
        due = (
            job not in self.frequent
            or outcome.outcome == "failed"
            or previous is None
            or previous[0] != outcome.outcome
            or wall - previous[1] >= self.heartbeat_s
        )
        if due:
            self._last[job] = (outcome.outcome, wall)
        return due

    def _record(
        self, store: Store, started: dt.datetime, outcome: JobOutcome, now: dt.datetime
    ) -> None:
        run_id = start_job_run(store, self.site_id, outcome.job, self.instance, started)
        finish_job_run(
            store,
            run_id,
            outcome.outcome,
            now,
            detail=outcome.detail[:2000] or None,
            wall_duration_s=outcome.wall_duration_s,
        )
        if outcome.outcome == "failed":
            raise_alarm(
                store,
                self.site_id,
                "job_failed",
                outcome.job,
                Severity.WARNING,
                alarm_text("job.failed", job=outcome.job, detail=outcome.detail[:1900]),
                now,
            )
        else:
            clear_alarm(store, self.site_id, "job_failed", outcome.job, now)

    async def _store_call(self, job: str, function: Callable[..., None], *args: object) -> None:
        """Call a store function (store first, `now` last) in a thread; note a store outage."""
        now = self.now()
        try:
            await asyncio.to_thread(function, self.store, *args, now)
        except SQLAlchemyError as exc:
            self.note_outage(job, f"{type(exc).__name__}: {exc}")
            return
        if self.outage is not None:
            await asyncio.to_thread(self.report_outage, now)

    def note_outage(self, job: str, error: str) -> None:
        if self.outage is None:
            self.outage = _Outage(self.now(), error.splitlines()[0][:500], job)
            log.error("store unavailable (job %s): %s", job, self.outage.error)

    def report_outage(self, now: dt.datetime) -> None:
        outage = self.outage
        if outage is None:
            return
        try:
            raise_alarm(
                self.store,
                self.site_id,
                "store_unavailable",
                self.instance,
                Severity.CRITICAL,
                f"store unavailable from {outage.since.isoformat()} to {now.isoformat()} "
                f"(first noticed by job {outage.job}: {outage.error})",
                now,
            )
            append_audit(
                self.store,
                f"system:control:{self.instance}",
                "store.outage",
                f"site:{self.site_id}",
                {
                    "since": outage.since.isoformat(),
                    "until": now.isoformat(),
                    "error": outage.error,
                },
                time=now,
            )
        except SQLAlchemyError:
            return
        self.outage = None
        log.warning("store available again; outage since %s recorded", outage.since.isoformat())
