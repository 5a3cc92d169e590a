"""The Prometheus /metrics endpoint: the control loop's state as the status page judges it.

At every scrape the figures are read from the store, so `kv serve` on its own shows the same as
the process that runs the control loop: devices and series by the status page's own judgement
(energy.web.status_view: a sleeping inverter is asleep, not down), the newest run of every job,
open incidents, setpoint writes of the last hour with their read-back confirmation, the age of
the newest price, weather and forecast issue, and how long these store reads took. The job
duration histogram of the control loop in this process (energy.metrics) is served alongside.
When the store does not answer, only `kv_store_up 0` is reported. Documented in
docs/operations.md (Metrics).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from energy.metrics import PROCESS_REGISTRY
from energy.site import Site
from energy.store.engine import Store
from energy.store.prices import price_target
from energy.store.schema import forecasts, setpoint_writes
from energy.store.setpoints import SUCCESSFUL_OUTCOMES
from energy.store.types import to_utc_datetime
from energy.store.weather import weather_target
from energy.web.levels import Level
from energy.web.settings import WebSettings
from energy.web.status_view import StatusReport, build_status

__all__ = ["CONTENT_TYPE", "StoreCollector", "metrics_registry", "render_metrics"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_DEVICE_STATES = {
    Level.OK: "up",
    Level.UNKNOWN: "up",
    Level.INFO: "asleep",
    Level.WARN: "late",
    Level.BAD: "down",
}
_SERIES_STATES = {Level.WARN: "late", Level.BAD: "stale", Level.INFO: "asleep"}
_WRITE_WINDOW = dt.timedelta(hours=1)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class StoreCollector(Collector):
    """Reads one site's figures from the store at each scrape (see module docstring)."""

    def __init__(self, site: Site, store: Store, settings: WebSettings):
        self._site = site
        self._store = store
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        up = _gauge("kv_store_up", "1 when the store answered this scrape's reads, else 0.")
        started = time.perf_counter()
        try:
            now = self._settings.clock()
            report = build_status(self._site, self._store, self._settings)
            families = [
                *_status_families(report),
                _setpoint_family(self._store, self._site.id, now),
                _feed_family(self._store, self._site, now),
            ]
        except SQLAlchemyError as exc:
            log.warning("metrics: the store did not answer: %s", exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        latency = _gauge(
            "kv_store_read_seconds",
            "Wall-clock seconds the store reads of this scrape took (status, writes, feeds).",
        )
        latency.add_metric([], time.perf_counter() - started)
        yield latency
        yield from families


def _status_families(report: StatusReport) -> list[Metric]:
    by_name = {light.name: light for light in report.lights}
    devices = _gauge(
        "kv_devices",
        "Modbus devices by state as the status page judges them: up, asleep (a PV inverter at "
        "night, a heat pump in an SG Ready lock), late, down.",
        ["state"],
    )
    device_rows = by_name["Device communication"].rows
    counts = Counter(_DEVICE_STATES[row["level"]] for row in device_rows)
    for state in ("up", "asleep", "late", "down"):
        devices.add_metric([state], counts[state])

    series = _gauge(
        "kv_series",
        "Measured series by freshness of their newest value: fresh, late (older than their "
        "cadence allows, or invalid), stale (marked stale, or far too old), asleep.",
        ["state"],
    )
    counts = Counter(
        _SERIES_STATES.get(row["level"], "fresh") for row in by_name["Data freshness"].rows
    )
    for state in ("fresh", "late", "stale", "asleep"):
        series.add_metric([state], counts[state])

    job_duration = _gauge(
        "kv_job_last_duration_seconds",
        "Wall-clock duration of the newest recorded run of each job.",
        ["job"],
    )
    job_age = _gauge(
        "kv_job_last_run_age_seconds",
        "Seconds since the newest recorded run of each job started (platform clock).",
        ["job"],
    )
    job_ok = _gauge(
        "kv_job_last_outcome",
        "Outcome of the newest recorded run of each job: 1 for the outcome it had, else 0.",
        ["job", "outcome"],
    )
    for row in by_name["Watchdogs"].rows:
        if row["duration_s"] is not None:
            job_duration.add_metric([row["job"]], row["duration_s"])
        job_age.add_metric([row["job"]], row["age_s"])
        for outcome in ("ok", "skipped", "failed"):
            job_ok.add_metric([row["job"], outcome], float(row["outcome"] == outcome))

    incidents = _gauge(
        "kv_incidents_open",
        "Open incidents (alarms grouped by cause) by severity and state (active, acknowledged).",
        ["severity", "state"],
    )
    counts_pair = Counter((i["severity"], i["state"]) for i in report.incidents)
    for severity in ("info", "warning", "critical"):
        for state in ("active", "acknowledged"):
            incidents.add_metric([severity, state], counts_pair[(severity, state)])
    return [devices, series, job_duration, job_age, job_ok, incidents]


def _setpoint_family(store: Store, site_id: str, now: dt.datetime) -> Metric:
    family = _gauge(
        "kv_setpoint_writes_last_hour",
        "Setpoint write attempts of the last hour by outcome; confirmed='true' when the device "
        "read back the value (outcomes ok, clamped).",
        ["outcome", "confirmed"],
    )
    query = (
        select(setpoint_writes.c.outcome, func.count())
        .where(
            and_(
                setpoint_writes.c.site_id == site_id,
                setpoint_writes.c.time >= to_utc_datetime(now - _WRITE_WINDOW),
            )
        )
        .group_by(setpoint_writes.c.outcome)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    for outcome, count in sorted(rows):
        family.add_metric([outcome, str(outcome in SUCCESSFUL_OUTCOMES).lower()], count)
    return family


def _feed_family(store: Store, site: Site, now: dt.datetime) -> Metric:
    """Age of the newest issue of each feed: day-ahead prices, weather, own forecasts."""
    family = _gauge(
        "kv_feed_age_seconds",
        "Seconds since the newest stored issue of each feed (prices: day-ahead prices of the "
        "zone; weather: weather forecasts; forecast: the platform's own forecasts).",
        ["feed"],
    )
    weather_prefix = weather_target(site.id, "")
    prices = price_target(site.config.prices.zone)
    kinds = {
        "prices": forecasts.c.target == prices,
        "weather": forecasts.c.target.startswith(weather_prefix),
        "forecast": and_(
            forecasts.c.target != prices, ~forecasts.c.target.startswith(weather_prefix)
        ),
    }
    with store.engine.connect() as conn:
        for feed, condition in kinds.items():
            newest = conn.execute(select(func.max(forecasts.c.issue_time)).where(condition))
            issued = newest.scalar_one_or_none()
            if issued is not None:
                family.add_metric([feed], (now - issued).total_seconds())
    return family


def metrics_registry(site: Site, store: Store, settings: WebSettings) -> CollectorRegistry:
    """A registry with the store's figures of one site (one per web application)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(site, store, settings))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The exposition text: the site's figures, then this process's control-loop metrics."""
    return generate_latest(registry) + generate_latest(PROCESS_REGISTRY)
