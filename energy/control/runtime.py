"""One controller instance of a site: the scheduled jobs, the site lease and the restart hold.

    runtime = ControlRuntime(site, store, clock=WallClock())
    await runtime.start()          # in a running event loop; jobs start firing
    ...
    await runtime.stop()           # devices released to local mode, lease released

Jobs (APScheduler 3.x AsyncIOScheduler, coroutine jobs in one event loop; store calls and the
optimizer run in worker threads; every job coalesces missed runs, runs one instance at a time and
is wrapped by `JobRunner`, so a failure is recorded and alarmed but never stops the scheduler):

- `lease` (every lease_ttl_s / 3): take or renew the site lease. Only the holder polls, plans and
  dispatches; another instance against the same store stands by and takes over once the lease
  has expired. Taking the lease (at start or over from a dead instance) starts the restart hold.
- `poll` (poll_interval_s): read every device, stamp the readings on the site clock and store them;
  what the store cannot take goes to the durable local spool (energy.control.spool) and is
  stored, oldest first, once it answers. Polling goes on through a store outage that began while
  this instance held the lease (`polling`); writing needs a valid lease (`leading`).
- `plan` (aligned to plan_interval_min, plus a catch-up check every 10 s so a start or a failed
  cycle is re-planned at once): `LivePlanner.run`, idempotent per planning period.
- `dispatch` (dispatch_interval_s): the grid operator's limits read first
  (energy.control.grid_signals: a change is applied in this very cycle and re-planned at once),
  then `Dispatcher.dispatch_once`, only after the restart hold
  (one device-watchdog period: by then setpoints of a previous instance have expired and the
  poll job has read the state) and only while the lease is valid on the site clock.
- `housekeeping` (cron, site local time): expire plans, delete measurements and job runs older
  than control.retention_days and stored weather forecasts issued more than
  weather.retention_days ago (the audit log and the setpoint write log are append-only hash
  chains and kept).
- `derive` (every minute of the site clock): the house-level series of the slot that just
  finished (household load, heat demand, PV, weather actuals) from the device values
  (energy.control.derived), which the forecasters learn from.
- data hub (`publish_mqtt`, `publish_ngsi_ld`, when enabled in the site's publication section):
  energy.datahub jobs that publish district aggregates, plans, forecasts and KPIs (and the
  consenting houses' values) to the city's data hub, as lease holder only.
- `notify` (every minute of the site clock, with a `notifications` section in the site YAML):
  e-mails and webhooks for new, escalated and unacknowledged critical incidents, as lease holder
  only (energy.notify).
- `retrain` (cron): trains the ForecastService on the stored history when there is enough of it
  (energy.control.retrain); until then the profile bootstrap forecasts.

Accelerated mode (clock speed > 1): the same jobs on scaled wall intervals (energy.control.timing);
cron-aligned jobs become interval checks that are idempotent per period.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from connectors.poller import DevicePoller, PollResult, measurements_frame
from connectors.writer import SetpointWriter, WriteOutcome, write_record
from energy.alarm_texts import alarm_text
from energy.control.clock import Clock, WallClock
from energy.control.derived import store_derived_slot
from energy.control.dispatch import Dispatcher, DispatchReport
from energy.control.grid_signals import GridSignals
from energy.control.jobs import JobOutcome, JobRunner, Skipped
from energy.control.planner import LivePlanner
from energy.control.prices import DayAheadPrices
from energy.control.retrain import retrain_forecaster
from energy.control.spool import MeasurementSpool
from energy.control.timing import LoopTiming
from energy.datahub.jobs import HubJob
from energy.notify.job import Notifier
from energy.site import Site
from energy.store.audit import append_audit
from energy.store.engine import Store
from energy.store.leases import lease_holder, release_lease, try_acquire_lease
from energy.store.measurements import write_measurements
from energy.store.plans import expire_plans
from energy.store.schema import job_runs, measurements, series
from energy.store.setpoints import record_setpoint_write
from energy.store.weather import prune_weather_forecasts
from energy.timegrid import SLOT, floor_slot
from energy.weather import WeatherActuals, WeatherFeed

__all__ = ["ControlRuntime", "PlannerFactory", "default_instance_id", "spool_for"]

log = logging.getLogger(__name__)

PlannerFactory = Callable[[Site, Store, LoopTiming], LivePlanner]
FREQUENT_JOBS = frozenset({"poll", "dispatch", "lease", "derive"})
DISPATCH_ACTOR = "system:dispatch"


def default_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def spool_for(site: Site) -> MeasurementSpool:
    """The site's measurement spool: store.spool_dir, else <data dir>/spool, one folder per site
    (KV_DATA_DIR moves the data directory, as it does for the SQLite store)."""
    config = site.config.store
    data_dir = Path(os.environ.get("KV_DATA_DIR") or config.data_dir)
    base = Path(config.spool_dir) if config.spool_dir else data_dir / "spool"
    return MeasurementSpool(base / site.id, max_bytes=int(config.spool_max_mb * 2**20))


def default_planner(
    site: Site,
    store: Store,
    timing: LoopTiming,
    weather: WeatherFeed,
    prices: DayAheadPrices | None = None,
) -> LivePlanner:
    """PlanningCycle with the optimizer, the bootstrap forecaster, the given weather feed and
    day-ahead prices (None: the tariff's price file)."""
    from energy.control.planner import ProfileForecaster
    from energy.control.planning import PlanningCycle
    from optimizer import DispatchOptimizer, OptimizerOptions

    control = site.config.control
    horizon = control.horizon_slots
    optimizer = DispatchOptimizer(
        site,
        options=OptimizerOptions(horizon_slots=horizon, time_limit_s=control.plan_time_limit_s),
    )
    cycle = PlanningCycle(site, optimizer, ProfileForecaster(site, horizon), horizon)
    return LivePlanner(site, store, cycle, weather, timing.stale_after_s, prices)


def reference_year_weather(site: Site) -> tuple[WeatherFeed, WeatherActuals]:
    """The simulator's weather (the test reference year with a forecast error, and its actuals):
    the default when no weather feed is handed to the runtime."""
    from energy.physics.weather_feed import TryWeatherFeed

    feed = TryWeatherFeed(site)
    return feed, feed


class ControlRuntime:
    """The jobs of one controller instance (see module docstring)."""

    def __init__(
        self,
        site: Site,
        store: Store,
        *,
        clock: Clock | None = None,
        timing: LoopTiming | None = None,
        instance: str | None = None,
        planner_factory: PlannerFactory | None = None,
        poller: DevicePoller | None = None,
        poller_policy: dict[str, object] | None = None,
        weather: WeatherFeed | None = None,
        weather_actuals: WeatherActuals | None = None,
        prices: DayAheadPrices | None = None,
        hub_jobs: Sequence[HubJob] = (),
        spool: MeasurementSpool | None = None,
    ):
        """weather: the planner's weather feed (the live loop hands in its fallback chain);
        weather_actuals: the irradiance of finished slots (None: not derived). Without either,
        the simulator's reference-year weather. prices: the live day-ahead prices, fetched by
        the `prices` job (None: the tariff's price file, no job)."""
        self.site = site
        self.store = store
        self.clock = clock or WallClock()
        self.timing = timing or LoopTiming.for_site(site, self.clock.speed)
        self.instance = instance or default_instance_id()
        if weather is None:
            weather, weather_actuals = reference_year_weather(site)
        self.weather = weather
        self.prices = prices
        #: the grid operator's limits, read every dispatch cycle (a site with grid_signals)
        self.grid_signals = (
            GridSignals(site, store) if site.config.grid_signals is not None else None
        )
        self.planner_factory: PlannerFactory = planner_factory or functools.partial(
            default_planner, weather=weather, prices=prices
        )
        self.poller = poller or DevicePoller(site, None, policy_overrides=poller_policy or {})
        self.hub_jobs = list(hub_jobs)
        #: setpoint_writes and the audit name the controller instance that wrote
        self.actor = f"{DISPATCH_ACTOR}:{self.instance}"
        self.writer = SetpointWriter(
            site, store, self.actor, poller=self.poller, now=self.clock.now
        )
        self.dispatcher = Dispatcher(
            site,
            store,
            self.writer,
            self.timing.stale_after_s,
            self.grid_signals.external_limits if self.grid_signals is not None else None,
        )
        # releases while the store is down go through a writer that records nothing; their
        # outcomes are recorded once the store is back
        self._offline = Dispatcher(
            site,
            store,
            SetpointWriter(site, None, self.actor, poller=self.poller, now=self.clock.now),
            self.timing.stale_after_s,
        )
        self._unrecorded: list[WriteOutcome] = []
        self._released_offline = False
        self.runner = JobRunner(store, site.id, self.instance, self.clock.now, FREQUENT_JOBS)
        self.spool = spool or spool_for(site)
        #: called with every polled frame (site-clock stamps) before it is stored or spooled
        self.poll_observers: list[Callable[[pd.DataFrame], None]] = []
        self._maps = {s.asset_id: s.register_map for s in self.poller.devices or []}
        self.planner: LivePlanner | None = None
        self._plan_lock = asyncio.Lock()
        self.scheduler: AsyncIOScheduler | None = None
        self.has_lease = False
        self.lease_valid_until: dt.datetime | None = None
        self.hold_until: dt.datetime | None = None
        self.last_poll: PollResult | None = None
        self.last_dispatch: DispatchReport | None = None
        self._weather_actuals = weather_actuals
        notifications = site.config.notifications
        #: notifications of incidents (a site with a notifications section)
        self.notifier = (
            Notifier(store, site.id, site.config.name, notifications, site.tz)
            if notifications is not None
            else None
        )
        #: the last slot derived by this instance (a cache: deriving again stores nothing new)
        self._derived_slot: pd.Timestamp | None = None

    # -- permissions --------------------------------------------------------------------------

    def leading(self, now: dt.datetime) -> bool:
        """True while this instance holds a lease that is valid on the site clock."""
        return (
            self.has_lease and self.lease_valid_until is not None and now < self.lease_valid_until
        )

    def polling(self, now: dt.datetime) -> bool:
        """True while this instance may poll: as lease holder, or through a store outage that
        began while it held the lease (reading devices never conflicts with another controller;
        what it reads is spooled and stored later, duplicates ignored)."""
        return self.leading(now) or (self.has_lease and self.runner.outage is not None)

    def outage_note(self) -> str | None:
        """What an operator should know about a store outage in progress, or None."""
        outage = self.runner.outage
        if outage is None:
            return None
        segments = len(self.spool.segments())
        if self.lease_valid_until is None:
            lease = "not the lease holder"
        elif self.leading(self.clock.now()):
            lease = (
                f"lease valid until {self.lease_valid_until.isoformat()}; devices released to "
                "local mode until the store answers"
            )
        else:
            lease = (
                f"lease expired at {self.lease_valid_until.isoformat()}: another controller may "
                "take over; this one only polls"
            )
        return (
            f"store unavailable since {outage.since.isoformat()} ({outage.error}); "
            f"{segments} polled frame(s) spooled in {self.spool.directory}; {lease}"
        )

    def holding(self, now: dt.datetime) -> bool:
        return self.hold_until is None or now < self.hold_until

    def _hold_end(self) -> dt.datetime | str:
        """The restart hold's end for a job's detail ('-': not known before the lease is held)."""
        return self.hold_until if self.hold_until is not None else "-"

    # -- job bodies ---------------------------------------------------------------------------

    async def lease_job(self) -> JobOutcome:
        return await self.runner.run("lease", self._lease)

    async def _lease(self) -> str:
        now = self.clock.now()
        try:
            held = await asyncio.to_thread(
                try_acquire_lease,
                self.store,
                self.site.id,
                self.instance,
                self.timing.lease_ttl_s,
                now,
            )
        except SQLAlchemyError:
            if self.has_lease:
                log.error(
                    "lease renewal failed (store); dispatch stops at %s",
                    self.lease_valid_until.isoformat() if self.lease_valid_until else "now",
                )
            raise
        if held and not self.has_lease:
            self.hold_until = now + dt.timedelta(seconds=self.timing.restart_hold_s)
            log.info(
                "%s holds the lease of %s; holding writes until %s (one watchdog period)",
                self.instance,
                self.site.id,
                self.hold_until.isoformat(),
            )
            await asyncio.to_thread(
                append_audit,
                self.store,
                f"system:control:{self.instance}",
                "lease.acquire",
                f"site:{self.site.id}",
                {"hold_until": self.hold_until.isoformat(), "ttl_s": self.timing.lease_ttl_s},
                now,
            )
            self._plan_when_the_hold_ends()
        elif not held and self.has_lease:
            log.warning("%s lost the lease of %s: standing by", self.instance, self.site.id)
            self.hold_until = None
        self.has_lease = held
        self.lease_valid_until = (
            now + dt.timedelta(seconds=self.timing.lease_ttl_s) if held else None
        )
        if not held:
            holder = await asyncio.to_thread(lease_holder, self.store, self.site.id, now)
            raise Skipped(alarm_text("job.standby_holder", holder=str(holder)))
        return "holder"

    def _plan_when_the_hold_ends(self) -> None:
        """Plan once right after the restart hold instead of at the next plan check (up to a
        sixth of a plan period later): the devices stay in local mode no longer than the hold."""
        if self.hold_until is not None:
            self._plan_soon("plan-after-hold", self.hold_until)

    def _plan_soon(self, job_id: str, at: dt.datetime) -> None:
        """Run the plan job once at site time `at` (at once when past), one dispatch period
        later: a new limit or the end of the hold is planned for without waiting for the
        next plan check."""
        if self.scheduler is None:
            return
        left_s = max((at - self.clock.now()).total_seconds(), 0.0)
        wall_s = left_s / self.timing.speed + self.timing.dispatch_wall_s
        self.scheduler.add_job(
            self.plan_job,
            DateTrigger(run_date=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wall_s)),
            id=job_id,
            name="plan",
            replace_existing=True,
        )

    async def poll_job(self) -> JobOutcome:
        return await self.runner.run("poll", self._poll)

    async def _poll(self) -> str:
        now = self.clock.now()
        if not self.polling(now):
            raise Skipped(alarm_text("job.standby"))
        result = await self.poller.poll_once(store_results=False)
        self.last_poll = result
        frame = self._on_site_clock(
            measurements_frame(result, self._maps), result, self.clock.now()
        )
        for observe in self.poll_observers:
            observe(frame)
        stale = result.stale()
        polled: dict[str, str | int] = {
            "devices": len(result.devices),
            "stale": str(stale or "none"),
        }
        try:
            stored = await asyncio.to_thread(self._store_polled, frame)
        except SQLAlchemyError as exc:
            self.runner.note_outage("poll", f"{type(exc).__name__}: {exc}")
            return alarm_text("job.polled_spooled", rows=len(frame), **polled)
        if self.runner.outage is not None:
            await asyncio.to_thread(self.runner.report_outage, self.clock.now())
        return alarm_text("job.polled", rows=stored, **polled)

    def _store_polled(self, frame: pd.DataFrame) -> int:
        """Store a polled frame; spool it when the store fails or older frames still wait there
        (they go first: rows reach the store in the order they were polled)."""
        if self.spool.empty:
            try:
                return write_measurements(self.store, self.site.id, frame)
            except SQLAlchemyError:
                self.spool.add(frame)
                raise
        self.spool.add(frame)
        return self.spool.flush(self.store, self.site.id)

    def _on_site_clock(
        self, frame: pd.DataFrame, result: PollResult, now: dt.datetime
    ) -> pd.DataFrame:
        """Readings stamped on the site clock: now - (poll end - read time) x speed, where now
        is the site clock at the poll's end (readings are never stamped in the future)."""
        if frame.empty:
            return frame
        offset = (frame["time"] - pd.Timestamp(result.finished)).dt.total_seconds().clip(upper=0)
        frame = frame.copy()
        frame["time"] = pd.Timestamp(now) + pd.to_timedelta(offset * self.clock.speed, unit="s")
        return frame.drop_duplicates(["asset_id", "quantity", "time"], ignore_index=True)

    async def plan_job(self) -> JobOutcome:
        return await self.runner.run("plan", self._plan)

    async def _plan(self) -> str:
        now = self.clock.now()
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        if self.holding(now):
            raise Skipped(alarm_text("job.hold_state", until_at=self._hold_end()))
        async with self._plan_lock:
            if self.planner is None:
                self.planner = await asyncio.to_thread(self._build_planner)
            outcome = await asyncio.to_thread(self.planner.run, self.clock.now())
        if outcome.plan is None:
            raise Skipped(outcome.skipped)
        return alarm_text(
            "job.planned",
            version=outcome.plan.version,
            status=outcome.plan.solver_status,
            state=outcome.plan.state.value,
            seconds=round(outcome.seconds, 2),
            reason=outcome.release.reason if outcome.release else "",
        )

    def _build_planner(self) -> LivePlanner:
        """The planner of the factory, planning with this runtime's grid limits."""
        planner = self.planner_factory(self.site, self.store, self.timing)
        planner.grid_signals = self.grid_signals
        return planner

    async def prices_job(self) -> JobOutcome:
        return await self.runner.run("prices", self._prices)

    async def _prices(self) -> str:
        """Fetch day-ahead prices when a fetch can bring new ones (energy.control.prices)."""
        now = self.clock.now()
        if self.prices is None:
            raise Skipped(alarm_text("job.no_live_prices"))
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        if not await asyncio.to_thread(self.prices.due, now):
            raise Skipped(alarm_text("job.prices_stored"))
        outcome = await asyncio.to_thread(self.prices.fetch, now)
        if outcome.source is None:
            raise RuntimeError(f"no price source answered: {'; '.join(outcome.problems)}")
        until = outcome.published_until.isoformat() if outcome.published_until else "nothing"
        return f"{outcome.slots_stored} slots from {outcome.source}; published until {until}"

    async def dispatch_job(self) -> JobOutcome:
        return await self.runner.run("dispatch", self._dispatch)

    async def _dispatch(self) -> str:
        now = self.clock.now()
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        if self.holding(now):
            raise Skipped(alarm_text("job.hold_writes", until_at=self._hold_end()))
        try:
            if self.grid_signals is not None:
                await self.grid_signals.refresh(now)
                if self.grid_signals.changed:
                    self._plan_soon("plan-on-grid-limit", now)
            report = await self.dispatcher.dispatch_once(now)
        except SQLAlchemyError:
            if not self._released_offline:  # once per outage, not every cycle
                await self._release_offline()
                self._released_offline = True
            raise
        self._released_offline = False
        if self._unrecorded or self.writer.unrecorded:
            await asyncio.to_thread(self._record_offline)
        self.last_dispatch = report
        plan = f"plan v{report.plan.version}" if report.plan else "no valid plan"
        return (
            f"{plan}: {len(report.commands)} commands, released {report.released or 'none'}, "
            f"stale {sorted(report.stale) or 'none'}, failed {sorted(report.failed) or 'none'}"
        )

    async def _release_offline(self) -> None:
        """The store is gone: hand every device back to local mode without recording it now."""
        log.error("store unavailable during dispatch: releasing every device to local mode")
        self.dispatcher.forget_released()
        await self._offline.release_all("store unavailable")
        self._unrecorded += self._offline.last_outcomes

    def _record_offline(self) -> None:
        """Record the writes made while the store was unavailable (offline releases and writes
        whose record failed), with one audit entry listing them."""
        outcomes = [*self._unrecorded, *self.writer.unrecorded]
        for outcome in outcomes:
            detail = f"while the store was unavailable; {outcome.detail}".strip("; ")
            record_setpoint_write(
                self.store, write_record(outcome, self.site.id, self.actor, detail)
            )
            if outcome in self._unrecorded:
                self._unrecorded.remove(outcome)
            else:
                self.writer.unrecorded.remove(outcome)
        append_audit(
            self.store,
            self.actor,
            "dispatch.offline_release",
            f"site:{self.site.id}",
            {
                "writes": [
                    {"asset_id": o.asset_id, "point": o.point, "status": o.status.value}
                    for o in outcomes
                ]
            },
            outcomes[0].time if outcomes else self.clock.now(),
        )

    async def housekeeping_job(self) -> JobOutcome:
        return await self.runner.run("housekeeping", self._housekeeping)

    async def _housekeeping(self) -> str:
        now = self.clock.now()
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        expired = await asyncio.to_thread(
            functools.partial(
                expire_plans,
                self.store,
                self.site.id,
                now,
                proposal_valid=self.site.config.control.proposal_valid,
            )
        )
        cutoff = now - dt.timedelta(days=self.site.config.control.retention_days)
        deleted = await asyncio.to_thread(self._retention, cutoff)
        weather_cutoff = now - dt.timedelta(days=self.site.config.weather.retention_days)
        weather = await asyncio.to_thread(
            prune_weather_forecasts, self.store, self.site.id, weather_cutoff
        )
        return (
            f"expired plans {expired or 'none'}; deleted before {cutoff.isoformat()}: {deleted}; "
            f"weather forecasts issued before {weather_cutoff.isoformat()}: {weather}"
        )

    def _retention(self, cutoff: dt.datetime) -> dict[str, int]:
        site_series = select(series.c.id).where(series.c.site_id == self.site.id)
        with self.store.engine.begin() as conn:
            counts = {
                "measurements": conn.execute(
                    delete(measurements).where(
                        measurements.c.series_id.in_(site_series), measurements.c.time < cutoff
                    )
                ).rowcount,
                "job_runs": conn.execute(
                    delete(job_runs).where(
                        job_runs.c.site_id == self.site.id, job_runs.c.started_at < cutoff
                    )
                ).rowcount,
            }
        return counts

    async def notify_job(self) -> JobOutcome:
        return await self.runner.run("notify", self._notify)

    async def _notify(self) -> str:
        now = self.clock.now()
        if self.notifier is None:
            raise Skipped(alarm_text("job.no_notifications"))
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        return await self.notifier.run(now)

    async def derive_job(self) -> JobOutcome:
        return await self.runner.run("derive", self._derive)

    async def _derive(self) -> str:
        """The house-level series of the slot that just finished (energy.control.derived)."""
        now = self.clock.now()
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        slot = floor_slot(now) - SLOT
        if self._derived_slot == slot:
            raise Skipped(alarm_text("job.slot_derived", slot_at=slot))
        irradiance = (
            await asyncio.to_thread(self._weather_actuals.actual, slot)
            if self._weather_actuals is not None
            else None
        )
        rows = await asyncio.to_thread(
            store_derived_slot, self.store, self.site, slot.to_pydatetime(), irradiance
        )
        self._derived_slot = slot
        return alarm_text("job.slot_rows", slot_at=slot, rows=rows)

    async def retrain_job(self) -> JobOutcome:
        return await self.runner.run("retrain", self._retrain)

    async def _retrain(self) -> str:
        now = self.clock.now()
        if not self.leading(now):
            raise Skipped(alarm_text("job.standby"))
        control = self.site.config.control
        outcome = await asyncio.to_thread(
            retrain_forecaster,
            self.store,
            self.site,
            now,
            control.retrain_history_days,
            control.retrain_min_coverage_frac,
        )
        if outcome.service is None:
            raise Skipped(outcome.reason)
        async with self._plan_lock:
            if self.planner is not None:
                self.planner.use_forecaster(
                    outcome.service, control.retrain_history_days, outcome.service.nowcast()
                )
        return outcome.reason

    async def hub_job(self, job: HubJob) -> JobOutcome:
        async def body() -> str:
            now = self.clock.now()
            if not self.leading(now):
                raise Skipped(alarm_text("job.standby"))
            return await asyncio.to_thread(job.run, now)

        return await self.runner.run(job.name, body)

    # -- lifecycle ----------------------------------------------------------------------------

    def _triggers(self) -> dict[str, list[object]]:
        t = self.timing
        tz = self.site.tz
        control = self.site.config.control

        def every(seconds: float) -> IntervalTrigger:
            return IntervalTrigger(seconds=seconds, timezone=dt.UTC)

        if t.accelerated:
            plan = [every(t.plan_check_wall_s)]
            housekeeping = [every(3600.0 / t.speed * 24)]
            retrain = [every(7 * 86400.0 / t.speed)]
        else:
            minutes = ",".join(str(m) for m in range(0, 60, control.plan_interval_min))
            plan = [CronTrigger(minute=minutes, second=2, timezone=dt.UTC), every(10.0)]
            housekeeping = [CronTrigger.from_crontab(control.housekeeping_cron, timezone=tz)]
            retrain = [CronTrigger.from_crontab(control.retrain_cron, timezone=tz)]
        return {
            "lease": [every(t.lease_wall_s)],
            "poll": [every(t.poll_wall_s)],
            "dispatch": [every(t.dispatch_wall_s)],
            "plan": plan,
            "housekeeping": housekeeping,
            "retrain": retrain,
            "derive": [every(max(60.0 / t.speed, t.poll_wall_s))],
            "notify": [every(max(60.0 / t.speed, t.poll_wall_s))] if self.notifier else [],
            "prices": (
                [every(self.site.config.prices.fetch_interval_min * 60.0 / t.speed)]
                if self.prices is not None
                else []
            ),
        } | {
            job.name: [every(max(job.interval_s / t.speed, t.poll_wall_s))] for job in self.hub_jobs
        }

    async def _idle(self, timeout_s: float) -> None:
        """Wait for the jobs in flight to finish (a plan being solved, a write in progress)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.runner.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.runner.in_flight:
            log.warning("jobs still running at stop: %s", sorted(self.runner.in_flight))

    async def start(self) -> None:
        """Take the lease if free and start the scheduler (call inside the event loop)."""
        if self.scheduler is not None:
            raise RuntimeError("control runtime already started")
        await self.lease_job()
        if not self.spool.empty:  # left by a previous process that lost its store
            try:
                stored = await asyncio.to_thread(self.spool.flush, self.store, self.site.id)
                log.info("stored %d spooled measurement rows of a previous run", stored)
            except SQLAlchemyError as exc:
                self.runner.note_outage("start", f"{type(exc).__name__}: {exc}")
        if self.planner is None:
            log.info("building the dispatch model of %s (once per process) ...", self.site.id)
            try:
                self.planner = await asyncio.to_thread(self._build_planner)
            except Exception as exc:  # the plan job retries; dispatch releases meanwhile
                log.error("the planner could not be built (%s); the plan job retries", exc)
        jobs = {
            "lease": self.lease_job,
            "poll": self.poll_job,
            "dispatch": self.dispatch_job,
            "plan": self.plan_job,
            "housekeeping": self.housekeeping_job,
            "retrain": self.retrain_job,
            "derive": self.derive_job,
            "notify": self.notify_job,
            "prices": self.prices_job,
        }
        for hub in self.hub_jobs:
            hub.start()
            jobs[hub.name] = functools.partial(self.hub_job, hub)
        scheduler = AsyncIOScheduler(
            timezone=dt.UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        now = dt.datetime.now(dt.UTC)
        for name, triggers in self._triggers().items():
            for number, trigger in enumerate(triggers):
                # interval jobs run at once (the lease was just taken, the state must be read);
                # cron jobs wait for their time
                first = {"next_run_time": now} if isinstance(trigger, IntervalTrigger) else {}
                scheduler.add_job(jobs[name], trigger, id=f"{name}-{number}", name=name, **first)
        scheduler.start()
        self.scheduler = scheduler
        if self.has_lease:  # taken above, before the scheduler ran
            self._plan_when_the_hold_ends()
        log.info(
            "control loop of %s started as %s (speed %g): poll %.2f s, dispatch %.2f s, "
            "plan every %d min, hold %.0f s, stale after %.0f s, lease %.0f s (wall/site s)",
            self.site.id,
            self.instance,
            self.timing.speed,
            self.timing.poll_wall_s,
            self.timing.dispatch_wall_s,
            self.site.config.control.plan_interval_min,
            self.timing.restart_hold_s,
            self.timing.stale_after_s,
            self.timing.lease_ttl_s,
        )

    async def stop(self, reason: str = "shutdown") -> dict[str, str]:
        """Stop the jobs; as lease holder, release every device and give the lease up."""
        if self.scheduler is not None:
            self.scheduler.pause()
            await self._idle(timeout_s=30.0)
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        problems: dict[str, str] = {}
        if self.has_lease:
            problems = await self.dispatcher.release_all(reason)
            now = self.clock.now()
            try:
                if self._unrecorded or self.writer.unrecorded:
                    await asyncio.to_thread(self._record_offline)
                await asyncio.to_thread(release_lease, self.store, self.site.id, self.instance)
                await asyncio.to_thread(
                    append_audit,
                    self.store,
                    f"system:control:{self.instance}",
                    "control.stop",
                    f"site:{self.site.id}",
                    {"reason": reason, "release_failed": problems},
                    now,
                )
            except SQLAlchemyError as exc:
                log.error(
                    "store unavailable at the stop: the lease expires by itself, the stop is "
                    "not audited and these writes are not recorded (%s): %s",
                    str(exc).splitlines()[0][:200],
                    [
                        f"{o.asset_id}.{o.point}={o.written} {o.status.value} at {o.time}"
                        for o in [*self._unrecorded, *self.writer.unrecorded]
                    ],
                )
            self.has_lease = False
        for hub in self.hub_jobs:
            try:
                await hub.stop(self.clock.now())
            except Exception as exc:  # a publication target never blocks the stop
                log.error("data hub job %s did not stop cleanly: %s", hub.name, exc)
        await self.poller.close()
        await self.writer.close()
        if self.grid_signals is not None:
            await self.grid_signals.close()
        log.info("control loop of %s stopped (%s)", self.site.id, reason)
        return problems
