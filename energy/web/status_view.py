"""Traffic lights of the status page: is the platform seeing, planning and controlling the district?

Levels (energy.web.levels): ok and info (green), warn (amber), bad (red), unknown (grey, nothing
recorded yet). Each device is judged by what is normal for its kind (energy.web.device_health),
each series by its own cadence (energy.web.freshness); a job that had nothing to do is info, not
amber; alarms are shown as incidents (energy.store.incidents). The page and the API (/api/status)
show the same structure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from energy.quality import Quality
from energy.site import Site
from energy.store.alarms import list_alarms
from energy.store.controls import active_overrides, asset_modes_of
from energy.store.engine import Store
from energy.store.grid_limits import applied_limits
from energy.store.incidents import group_incidents
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
from energy.web.alarm_messages import detail_text
from energy.web.device_health import judge_device, sun_is_down
from energy.web.freshness import age_level, freshness_limit
from energy.web.i18n import N_, number
from energy.web.i18n import gettext as _
from energy.web.levels import Level, worst
from energy.web.localtime import format_local
from energy.web.overview_view import limits_in_force
from energy.web.settings import WebSettings

__all__ = ["Level", "Light", "StatusReport", "build_status"]


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
    incidents: list[dict[str, Any]]
    manual_assets: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def light(self, name: str) -> Light:
        for light in self.lights:
            if light.name == name:
                return light
        raise KeyError(f"no status light named {name!r}")


def _series_rows(
    site: Site, store: Store, now: dt.datetime, settings: WebSettings
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for row in latest_measurements(store, site.id).itertuples(index=False):
        age = (now - row.time.to_pydatetime()).total_seconds()
        limit = freshness_limit(row.asset_id, row.quantity, settings)
        rows.append(
            {
                "asset_id": row.asset_id,
                "quantity": row.quantity,
                "unit": row.unit,
                "time": row.time.to_pydatetime(),
                "value": float(row.value) if row.value == row.value else None,
                "quality": Quality(int(row.quality)).name.lower(),
                "age_s": round(age, 1),
                "cadence": limit.cadence,
                "fresh_for_s": limit.warn_after_s,
                "level": age_level(age, int(row.quality), limit),
                "note": "",
            }
        )
    return rows


def _measurement_lights(
    site: Site, store: Store, now: dt.datetime, settings: WebSettings
) -> list[Light]:
    series_rows = _series_rows(site, store, now, settings)
    polled: dict[str, list[dict[str, Any]]] = {}
    for row in series_rows:
        if row["cadence"] == "polled":
            polled.setdefault(row["asset_id"], []).append(row)
    sun_down = sun_is_down(site.config.location, now)
    device_rows: list[dict[str, Any]] = []
    for asset in site.devices():
        own = polled.get(asset.id, [])
        health = judge_device(asset, own, sun_down)
        if health.asleep:
            for row in own:
                row["level"], row["note"] = Level.INFO, health.note
        newest = max(own, key=lambda r: r["time"]) if own else None
        endpoint = asset.device
        device_rows.append(
            {
                "asset_id": asset.id,
                "endpoint": _(
                    "%(host)s:%(port)s unit %(unit)s",
                    host=endpoint.host,
                    port=endpoint.port,
                    unit=endpoint.unit_id,
                )
                if endpoint is not None and getattr(endpoint, "host", None)
                else "-",
                "last_value_at": newest["time"] if newest else None,
                "age_s": newest["age_s"] if newest else None,
                "level": health.level,
                "note": health.note,
            }
        )
    bad_devices = sum(r["level"] == Level.BAD for r in device_rows)
    asleep = sum(r["level"] == Level.INFO for r in device_rows)
    devices = Light(
        "Device communication",
        worst([r["level"] for r in device_rows]),
        _(
            "%(answering)s of %(total)s devices answering",
            answering=len(device_rows) - bad_devices - asleep,
            total=len(device_rows),
        )
        + (_(", %(asleep)s asleep", asleep=asleep) if asleep else ""),
        device_rows,
    )
    late = sum(r["level"] in (Level.WARN, Level.BAD) for r in series_rows)
    freshness = Light(
        "Data freshness",
        worst([r["level"] for r in series_rows]) if series_rows else Level.BAD,
        _(
            "%(fresh)s of %(total)s series fresh (polled: newer than %(limit)s s; "
            "per slot: until the next slot is due)",
            fresh=len(series_rows) - late,
            total=len(series_rows),
            limit=number(settings.stale_after_s, 0),
        )
        if series_rows
        else _("no measurements stored"),
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
        return Light("Setpoint writes", Level.UNKNOWN, _("no setpoint written in the last hour"))
    confirmed = sum(r["outcome"] in SUCCESSFUL_OUTCOMES for r in rows)
    return Light(
        "Setpoint writes",
        worst([r["level"] for r in rows]),
        _(
            "%(confirmed)s of %(total)s points confirmed by read-back at their newest write",
            confirmed=confirmed,
            total=len(rows),
        ),
        rows,
    )


_JOB_LEVELS = {"ok": Level.OK, "failed": Level.BAD, "skipped": Level.INFO}
"""A skipped job had nothing to do by design (standby, plan already made in this period, too
little history to retrain): informational, not a warning."""


def _wall_duration_s(run: dict[str, Any]) -> float | None:
    """Seconds the run took on the wall clock; runs recorded before the store kept that are shown
    from their start and end on the platform's clock."""
    if run["finished_at"] is None:
        return None
    if run.get("wall_duration_s") is not None:
        return float(run["wall_duration_s"])
    return float((run["finished_at"] - run["started_at"]).total_seconds())


def _job_rows(site: Site, store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for job, info in sorted(job_status(store, site.id).items()):
        last = info["last"]
        duration = _wall_duration_s(last)
        outcome = last["outcome"]
        level = _JOB_LEVELS.get(outcome, Level.OK)
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
        return Light(
            name, Level.UNKNOWN, _("no run recorded (jobs %(jobs)s)", jobs=", ".join(prefixes))
        )
    newest = max(mine, key=lambda r: r["started_at"])
    duration = newest["duration_s"]
    text = f"{newest['job']}: {_(newest['outcome'])}" + (
        _(" in %(seconds)s s (wall clock)", seconds=number(duration, 1))
        if duration is not None
        else ""
    )
    text += _(", started %(time)s", time=format_local(newest["started_at"], tz, seconds=True))
    if newest["detail"]:
        text += f" ({detail_text(newest['detail'], tz).text})"
    return Light(name, newest["level"], text, [newest])


def _weather_light(store: Store, site: Site) -> Light:
    """Where the newest plan's weather came from (energy.control.weather: live, stored,
    climatology; a simulator's reference-year feed shows as its name)."""
    newest = list_plans(store, site.id, limit=1)
    origin = newest[0].summary.get("weather") if newest else None
    if not isinstance(origin, dict):
        return Light("Weather", Level.UNKNOWN, _("no plan records its weather yet"))
    source = origin.get("source", "?")
    issued = origin.get("issue_time")
    when = format_local(dt.datetime.fromisoformat(issued), site.tz) if issued else "?"
    step = origin.get("step")
    if step == "stored":
        return Light(
            "Weather",
            Level.WARN,
            _(
                "stored %(source)s forecast issued %(time)s: the live feed failed (%(reason)s)",
                source=source,
                time=when,
                reason=origin.get("reason"),
            ),
        )
    if step == "climatology":
        return Light(
            "Weather",
            Level.BAD,
            _(
                "climatology (test reference year): the live feed failed (%(reason)s) "
                "and no stored forecast covers the horizon",
                reason=origin.get("reason"),
            ),
        )
    return Light(
        "Weather", Level.OK, _("%(source)s forecast issued %(time)s", source=source, time=when)
    )


def _grid_limits_light(store: Store, site: Site, now: dt.datetime) -> Light:
    """The grid operator's limits the control loop applies: kind, kW, source and end (the
    overview's words, energy.web.overview_view.limits_in_force)."""
    applied = applied_limits(store, site.id)
    if applied is None:
        return Light("Grid limits", Level.OK, _("no limit of the grid operator recorded"))
    since, limits = applied
    rows = [
        {
            "kind": kind,
            "limit_kw": limit["limit_kw"],
            "source": limit["source"],
            "until": limit["until"],
            "since": since.isoformat(),
        }
        for kind, limit in limits.items()
        if limit
    ]
    texts = limits_in_force(site, store, now)
    if not texts:
        return Light(
            "Grid limits",
            Level.OK,
            _("none in force (since %(time)s)", time=format_local(since, site.tz)),
        )
    return Light("Grid limits", Level.WARN, "; ".join(texts), rows)


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
                "last_error": _("no attempt recorded yet"),
                "endpoint": "-",
                "failing_since": None,
                "failing_s": None,
                "sent_total": None,
                "alarm_after_s": limits[target][1],
            }
        )
    if not rows:
        return Light("Data hub", Level.OK, _("no publication target enabled"))
    ok = sum(r["level"] == Level.OK for r in rows)
    waiting = sum(r["queue_length"] or 0 for r in rows)
    return Light(
        "Data hub",
        worst([r["level"] for r in rows]),
        _(
            "%(ok)s of %(total)s targets delivering; %(waiting)s messages waiting",
            ok=ok,
            total=len(rows),
            waiting=waiting,
        ),
        rows,
    )


_SEVERITY_LEVELS = {"critical": Level.BAD, "warning": Level.WARN, "info": Level.INFO}


def _incident_light(incidents: list[dict[str, Any]], alarm_count: int) -> Light:
    """Red while a critical incident is unacknowledged, amber for a warning; acknowledged
    incidents are listed but no longer colour the light."""
    active = [i for i in incidents if i["state"] == "active"]
    level = worst([_SEVERITY_LEVELS.get(i["severity"], Level.WARN) for i in active] or [Level.OK])
    return Light(
        "Incidents",
        level,
        _(
            "%(active)s active, %(acknowledged)s acknowledged (%(alarms)s open alarms)",
            active=len(active),
            acknowledged=len(incidents) - len(active),
            alarms=alarm_count,
        ),
    )


def build_status(site: Site, store: Store, settings: WebSettings) -> StatusReport:
    now = settings.clock()
    lights = _measurement_lights(site, store, now, settings)
    outage = settings.store_outage()
    if outage is not None:  # the store answers reads (a read-only SQLite file) but takes no writes
        lights.insert(0, Light(N_("Store"), Level.BAD, outage))
    jobs = _job_rows(site, store, now)
    lights.append(_job_light("Last forecast", jobs, settings.forecast_jobs, site.tz))
    lights.append(_job_light("Last solve", jobs, settings.solve_jobs, site.tz))
    plan = active_plan(store, site.id, now)
    lights.append(
        Light(
            "Active plan",
            Level.OK if plan is not None else Level.WARN,
            _(
                "plan %(id)s (version %(version)s) until %(time)s",
                id=plan.id,
                version=plan.version,
                time=format_local(plan.horizon_end, site.tz),
            )
            if plan is not None
            else _("no active plan covers now: devices run in their local mode"),
        )
    )
    lights.append(_weather_light(store, site))
    if site.config.grid_signals is not None:
        lights.append(_grid_limits_light(store, site, now))
    holder = lease_holder(store, site.id, now)
    lights.append(
        Light(
            "Watchdogs",
            worst([Level.OK if holder else Level.BAD] + [r["level"] for r in jobs]),
            _("controller lease held by %(holder)s", holder=holder)
            if holder
            else _("no controller holds the site lease"),
            jobs,
        )
    )
    lights.append(_setpoint_light(site, store, now, settings))
    lights.append(_datahub_light(site, store, now))
    overrides = list(active_overrides(store, site.id, now).values())
    alarms = list_alarms(store, site.id, open_only=True, limit=10_000)
    incidents = [i.as_dict() for i in group_incidents(alarms)]
    lights.append(_incident_light(incidents, len(alarms)))
    lights.append(
        Light(
            "Overrides",
            Level.WARN if overrides else Level.OK,
            _("%(count)s in force", count=len(overrides)) if overrides else _("none in force"),
        )
    )
    manual = sorted(a for a, m in asset_modes_of(store, site.id).items() if m.value == "manual")
    return StatusReport(
        time=now,
        overall=worst([light.level for light in lights]),
        lights=lights,
        overrides=overrides,
        alarms=alarms,
        incidents=incidents,
        manual_assets=manual,
    )
