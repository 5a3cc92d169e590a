"""Traffic lights of the status page: is the platform seeing, planning and controlling the district?

Levels: ok (green), warn (amber), bad (red), unknown (grey, nothing recorded yet). The page and the
API (/api/status) show the same structure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from energy.quality import Quality
from energy.site import Site
from energy.store.alarms import list_alarms
from energy.store.controls import active_overrides, asset_modes_of
from energy.store.engine import Store
from energy.store.jobs import job_status
from energy.store.leases import lease_holder
from energy.store.measurements import latest_measurements
from energy.store.plans import active_plan, list_plans
from energy.store.publication import publication_status
from energy.store.setpoints import (
    SUCCESSFUL_OUTCOMES,
    SetpointWriteRecord,
    read_setpoint_writes,
)
from energy.web.localtime import format_local
from energy.web.settings import WebSettings

__all__ = ["Level", "Light", "StatusReport", "build_status"]

STALE_FACTOR_BAD = 5.0
"""A value older than this many stale_after_s periods is red, not amber."""


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    UNKNOWN = "unknown"


_RANK = {Level.OK: 0, Level.UNKNOWN: 1, Level.WARN: 2, Level.BAD: 3}


def worst(levels: list[Level]) -> Level:
    return max(levels, key=_RANK.__getitem__) if levels else Level.UNKNOWN


@dataclass
class Light:
    name: str
    level: Level
    text: str
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StatusReport:
    time: dt.datetime
    overall: Level
    lights: list[Light]
    overrides: list[dict[str, Any]]
    alarms: list[dict[str, Any]]
    manual_assets: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def light(self, name: str) -> Light:
        for light in self.lights:
            if light.name == name:
                return light
        raise KeyError(f"no status light named {name!r}")


def _age_level(age_s: float | None, quality: int | None, stale_after_s: float) -> Level:
    if age_s is None or quality is None:
        return Level.BAD
    if quality == Quality.STALE or age_s > STALE_FACTOR_BAD * stale_after_s:
        return Level.BAD
    if quality == Quality.INVALID or age_s > stale_after_s:
        return Level.WARN
    return Level.OK


def _measurement_lights(
    site: Site, store: Store, now: dt.datetime, settings: WebSettings
) -> list[Light]:
    latest = latest_measurements(store, site.id)
    series_rows: list[dict[str, Any]] = []
    for row in latest.itertuples(index=False):
        age = (now - row.time.to_pydatetime()).total_seconds()
        series_rows.append(
            {
                "asset_id": row.asset_id,
                "quantity": row.quantity,
                "unit": row.unit,
                "time": row.time.to_pydatetime(),
                "value": float(row.value) if row.value == row.value else None,
                "quality": Quality(int(row.quality)).name.lower(),
                "age_s": round(age, 1),
                "level": _age_level(age, int(row.quality), settings.stale_after_s),
            }
        )
    device_rows: list[dict[str, Any]] = []
    for asset in site.devices():
        own = [r for r in series_rows if r["asset_id"] == asset.id]
        newest = max(own, key=lambda r: r["time"]) if own else None
        level = worst([r["level"] for r in own]) if own else Level.BAD
        endpoint = asset.device
        device_rows.append(
            {
                "asset_id": asset.id,
                "endpoint": f"{endpoint.host}:{endpoint.port} unit {endpoint.unit_id}"
                if endpoint is not None and getattr(endpoint, "host", None)
                else "-",
                "last_value_at": newest["time"] if newest else None,
                "age_s": newest["age_s"] if newest else None,
                "level": level,
            }
        )
    bad_devices = sum(r["level"] == Level.BAD for r in device_rows)
    devices = Light(
        "Device communication",
        worst([r["level"] for r in device_rows]),
        f"{len(device_rows) - bad_devices} of {len(device_rows)} devices answering",
        device_rows,
    )
    fresh = sum(r["level"] == Level.OK for r in series_rows)
    freshness = Light(
        "Data freshness",
        worst([r["level"] for r in series_rows]) if series_rows else Level.BAD,
        f"{fresh} of {len(series_rows)} series fresh (newer than {settings.stale_after_s:g} s)"
        if series_rows
        else "no measurements stored",
        series_rows,
    )
    return [devices, freshness]


_WRITE_LEVELS = {
    "held": Level.OK,
    "refused_not_writable": Level.WARN,
    "refused_invalid": Level.WARN,
}
"""Setpoint write outcomes other than the confirmed ones; anything not listed (mismatch,
unconfirmed, device_error, ...) is red: the device state is not what the platform asked for."""


def _setpoint_light(site: Site, store: Store, now: dt.datetime, settings: WebSettings) -> Light:
    """The newest write of every point in the last hour: is the dispatch loop getting through?"""
    since = now - dt.timedelta(hours=1)
    newest: dict[tuple[str, str], SetpointWriteRecord] = {}
    for write in read_setpoint_writes(store, site.id, since=since, limit=5000):
        newest.setdefault((write.asset_id, write.point), write)
    rows: list[dict[str, Any]] = []
    for (asset_id, point), write in sorted(newest.items()):
        if write.outcome in SUCCESSFUL_OUTCOMES:
            level = Level.OK
        else:
            level = _WRITE_LEVELS.get(write.outcome, Level.BAD)
        rows.append(
            {
                "asset_id": asset_id,
                "point": point,
                "time": write.time,
                "requested": write.requested,
                "written": write.written,
                "read_back": write.read_back,
                "outcome": write.outcome,
                "detail": write.detail,
                "actor": write.actor,
                "age_s": round((now - write.time).total_seconds(), 1),
                "level": level,
            }
        )
    if not rows:
        return Light("Setpoint writes", Level.UNKNOWN, "no setpoint written in the last hour")
    confirmed = sum(r["outcome"] in SUCCESSFUL_OUTCOMES for r in rows)
    return Light(
        "Setpoint writes",
        worst([r["level"] for r in rows]),
        f"{confirmed} of {len(rows)} points confirmed by read-back at their newest write",
        rows,
    )


def _job_rows(site: Site, store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for job, info in sorted(job_status(store, site.id).items()):
        last = info["last"]
        duration = (
            (last["finished_at"] - last["started_at"]).total_seconds()
            if last["finished_at"] is not None
            else None
        )
        outcome = last["outcome"]
        level = {"ok": Level.OK, "failed": Level.BAD, "skipped": Level.WARN}.get(outcome, Level.OK)
        failure = info["last_failure"]
        rows.append(
            {
                "job": job,
                "instance": last["instance"],
                "started_at": last["started_at"],
                "finished_at": last["finished_at"],
                "duration_s": duration,
                "outcome": outcome,
                "detail": last["detail"],
                "last_failure_at": failure["started_at"] if failure else None,
                "age_s": (now - last["started_at"]).total_seconds(),
                "level": level,
            }
        )
    return rows


def _job_light(
    name: str, rows: list[dict[str, Any]], prefixes: tuple[str, ...], tz: ZoneInfo
) -> Light:
    mine = [r for r in rows if r["job"].startswith(prefixes)]
    if not mine:
        return Light(name, Level.UNKNOWN, f"no run recorded (jobs {', '.join(prefixes)})")
    newest = max(mine, key=lambda r: r["started_at"])
    duration = newest["duration_s"]
    text = f"{newest['job']}: {newest['outcome']}" + (
        f" in {duration:.1f} s" if duration is not None else ""
    )
    text += f", started {format_local(newest['started_at'], tz, seconds=True)}"
    if newest["detail"]:
        text += f" ({newest['detail']})"
    return Light(name, newest["level"], text, [newest])


def _weather_light(store: Store, site: Site) -> Light:
    """Where the newest plan's weather came from (energy.control.weather: live, stored,
    climatology; a simulator's reference-year feed shows as its name)."""
    newest = list_plans(store, site.id, limit=1)
    origin = newest[0].summary.get("weather") if newest else None
    if not isinstance(origin, dict):
        return Light("Weather", Level.UNKNOWN, "no plan records its weather yet")
    source = origin.get("source", "?")
    issued = origin.get("issue_time")
    when = format_local(dt.datetime.fromisoformat(issued), site.tz) if issued else "?"
    step = origin.get("step")
    if step == "stored":
        return Light(
            "Weather",
            Level.WARN,
            f"stored {source} forecast issued {when}: the live feed failed ({origin.get('reason')})",
        )
    if step == "climatology":
        return Light(
            "Weather",
            Level.BAD,
            f"climatology (test reference year): the live feed failed ({origin.get('reason')}) "
            "and no stored forecast covers the horizon",
        )
    return Light("Weather", Level.OK, f"{source} forecast issued {when}")


def _target_limits(site: Site) -> dict[str, tuple[bool, float]]:
    publication = site.config.publication
    return {
        "mqtt": (publication.mqtt.enabled, publication.mqtt.alarm_after_s),
        "ngsi_ld": (publication.ngsi_ld.enabled, publication.ngsi_ld.alarm_after_s),
    }


def _datahub_light(site: Site, store: Store, now: dt.datetime) -> Light:
    """One row per publication target: last success, queue length, errors. Red once a target
    has failed for longer than its alarm_after_s, amber while it fails within that limit."""
    limits = _target_limits(site)
    rows: list[dict[str, Any]] = []
    for row in publication_status(store, site.id):
        enabled, limit_s = limits.get(row["target"], (True, 600.0))
        failing = row["failing_since"]
        failing_s = (now - failing).total_seconds() if failing is not None else None
        if failing_s is None:
            level = Level.OK if row["last_success_at"] is not None else Level.UNKNOWN
        else:
            level = Level.BAD if failing_s > limit_s else Level.WARN
        rows.append(
            row
            | {
                "enabled": enabled,
                "failing_s": round(failing_s, 1) if failing_s is not None else None,
                "alarm_after_s": limit_s,
                "level": level,
            }
        )
    missing = [t for t, (on, _) in limits.items() if on and t not in {r["target"] for r in rows}]
    for target in missing:
        rows.append(
            {
                "target": target,
                "enabled": True,
                "level": Level.UNKNOWN,
                "last_success_at": None,
                "queue_length": None,
                "dropped_total": None,
                "last_error": "no attempt recorded yet",
                "endpoint": "-",
                "failing_since": None,
                "failing_s": None,
                "sent_total": None,
                "alarm_after_s": limits[target][1],
            }
        )
    if not rows:
        return Light("Data hub", Level.OK, "no publication target enabled")
    ok = sum(r["level"] == Level.OK for r in rows)
    waiting = sum(r["queue_length"] or 0 for r in rows)
    return Light(
        "Data hub",
        worst([r["level"] for r in rows]),
        f"{ok} of {len(rows)} targets delivering; {waiting} messages waiting",
        rows,
    )


def build_status(site: Site, store: Store, settings: WebSettings) -> StatusReport:
    now = settings.clock()
    lights = _measurement_lights(site, store, now, settings)
    outage = settings.store_outage()
    if outage is not None:  # the store answers reads (a read-only SQLite file) but takes no writes
        lights.insert(0, Light("Store", Level.BAD, outage))
    jobs = _job_rows(site, store, now)
    lights.append(_job_light("Last forecast", jobs, settings.forecast_jobs, site.tz))
    lights.append(_job_light("Last solve", jobs, settings.solve_jobs, site.tz))
    plan = active_plan(store, site.id, now)
    lights.append(
        Light(
            "Active plan",
            Level.OK if plan is not None else Level.WARN,
            f"plan {plan.id} (version {plan.version}) until {format_local(plan.horizon_end, site.tz)}"
            if plan is not None
            else "no active plan covers now: devices run in their local mode",
        )
    )
    lights.append(_weather_light(store, site))
    holder = lease_holder(store, site.id, now)
    lights.append(
        Light(
            "Watchdogs",
            worst([Level.OK if holder else Level.BAD] + [r["level"] for r in jobs]),
            f"controller lease held by {holder}"
            if holder
            else "no controller holds the site lease",
            jobs,
        )
    )
    lights.append(_setpoint_light(site, store, now, settings))
    lights.append(_datahub_light(site, store, now))
    overrides = list(active_overrides(store, site.id, now).values())
    alarms = list_alarms(store, site.id, open_only=True)
    alarm_level = worst(
        [
            Level.BAD if a["severity"] == "critical" else Level.WARN
            for a in alarms
            if a["state"] == "active"
        ]
        or [Level.OK]
    )
    lights.append(
        Light(
            "Alarms",
            alarm_level,
            f"{sum(a['state'] == 'active' for a in alarms)} active, "
            f"{sum(a['state'] == 'acknowledged' for a in alarms)} acknowledged",
        )
    )
    lights.append(
        Light(
            "Overrides",
            Level.WARN if overrides else Level.OK,
            f"{len(overrides)} in force" if overrides else "none in force",
        )
    )
    manual = sorted(a for a, m in asset_modes_of(store, site.id).items() if m.value == "manual")
    return StatusReport(
        time=now,
        overall=worst([light.level for light in lights]),
        lights=lights,
        overrides=overrides,
        alarms=alarms,
        manual_assets=manual,
    )
