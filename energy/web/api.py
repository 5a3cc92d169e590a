"""The REST API under /api. Times are UTC (ISO 8601) here; the pages show local time.

Every route declares the permission it needs (see auth.ROLE_PERMISSIONS and docs/web.md); the
dependency refuses the request before the handler runs.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from energy.quality import Quality
from energy.store.alarms import acknowledge_alarm, list_alarms, raise_alarm
from energy.store.audit import append_audit, read_audit
from energy.store.controls import (
    active_overrides,
    asset_modes_of,
    cancel_override,
    set_asset_mode,
)
from energy.store.jobs import job_status
from energy.store.measurements import latest_measurements, read_series
from energy.store.plans import (
    PlanRecord,
    PlanState,
    active_plan,
    diff_plans,
    list_plans,
    read_plan_values,
)
from energy.store.setpoints import read_setpoint_writes
from energy.web.actions import (
    CONTROLLABLE_KINDS,
    asset_or_404,
    create_override,
    decide,
    now_of,
    plan_or_404,
    settings_of,
    site_of,
    store_of,
)
from energy.web.auth import ROLE_PERMISSIONS, Permission, Principal, require
from energy.web.i18n import gettext
from energy.web.localtime import format_local
from energy.web.openapi_doc import CONFLICT, NOT_FOUND
from energy.web.queries import (
    forecast_issues,
    list_backtests,
    list_forecast_models,
    list_sites,
    read_forecast,
)
from energy.web.schemas import (
    TIME_BOUNDS,
    AlarmIn,
    DecisionIn,
    ModeIn,
    Name,
    OverrideIn,
    RowId,
    UtcTime,
)
from energy.web.status_view import build_status

__all__ = ["plan_dict", "router"]

router = APIRouter(prefix="/api")

Reader = Annotated[Principal, Depends(require(Permission.READ))]
Controller = Annotated[Principal, Depends(require(Permission.CONTROL))]
Analyst = Annotated[Principal, Depends(require(Permission.ANALYSIS))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]

MAX_SERIES_SPAN = dt.timedelta(days=31)


AUTARKY_FIGURES = ("self_sufficiency_frac", "self_consumption_frac")


def plan_dict(plan: PlanRecord) -> dict[str, Any]:
    """A plan as JSON, with the site's autarky aim as its own field: `autarky` holds the plan's
    self-sufficiency (share of consumption covered locally) and self-consumption (share of PV
    used locally), from its cost breakdown (None for plans stored before they were computed)."""
    data = asdict(plan)
    data["state"] = plan.state.value
    breakdown = plan.summary.get("cost_breakdown") or {}
    data["autarky"] = {name: breakdown.get(name) for name in AUTARKY_FIGURES}
    return data


def _records_utc(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a large JSON answer, built without FastAPI's per-value encoder: slot_start as
    ISO 8601 UTC text."""
    out = frame.copy()
    out["slot_start"] = out["slot_start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out.to_dict("records")


# -- who am I, site, assets ------------------------------------------------------------------


@router.get("/me", tags=["session"])
def me(principal: Reader) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.user.role.value,
        "via": principal.via,
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS[principal.user.role]),
    }


@router.get("/sites", tags=["site"])
def sites(request: Request, _: Reader) -> list[dict[str, Any]]:
    return list_sites(store_of(request))


@router.get("/site", tags=["site"])
def site_detail(request: Request, _: Reader) -> dict[str, Any]:
    site = site_of(request)
    grid = site.config.grid
    return {
        "id": site.id,
        "name": site.config.name,
        "timezone": site.config.location.timezone,
        "illustrative": site.config.illustrative,
        "grid": {
            "import_limit_kw": grid.import_limit_kw,
            "export_limit_kw": grid.export_limit_kw,
            "feed_in_limit_kw": grid.feed_in_limit_kw,
        },
        "houses": [h.id for h in site.houses],
        "asset_count": len(site.assets),
    }


@router.get("/assets", tags=["site"])
def assets(request: Request, _: Reader) -> list[dict[str, Any]]:
    site, store = site_of(request), store_of(request)
    modes = asset_modes_of(store, site.id)
    in_force = active_overrides(store, site.id, now_of(request))
    return [
        {
            "id": a.id,
            "kind": a.kind.value,
            "house_id": a.house_id,
            "controllable": a.kind in CONTROLLABLE_KINDS,
            "mode": modes[a.id].value if a.id in modes else "auto",
            "override": in_force.get(a.id),
            "params": a.params_dict(),
        }
        for a in site.assets
    ]


# -- measurements --------------------------------------------------------------------------


@router.get("/measurements/latest", tags=["measurements"])
def measurements_latest(request: Request, _: Reader) -> list[dict[str, Any]]:
    """The newest value of every series with its quality and age in seconds."""
    now = now_of(request)
    frame = latest_measurements(store_of(request), site_of(request).id)
    return [
        {
            "asset_id": r.asset_id,
            "quantity": r.quantity,
            "unit": r.unit,
            "time": r.time.to_pydatetime(),
            "value": None if r.value != r.value else float(r.value),
            "quality": Quality(int(r.quality)).name.lower(),
            "age_s": round((now - r.time.to_pydatetime()).total_seconds(), 3),
        }
        for r in frame.itertuples(index=False)
    ]


@router.get("/measurements/series", tags=["measurements"])
def measurements_series(
    request: Request,
    _: Reader,
    asset_id: Name,
    quantity: Name,
    start: UtcTime,
    end: Annotated[
        UtcTime,
        Query(
            description=f"after start, at most 31 days after it (else 422); {TIME_BOUNDS}",
            json_schema_extra={"x-max-span-after": "start", "x-max-span-days": 31},
        ),
    ],
) -> list[dict[str, Any]]:
    """Values of one series in [start, end): end after start, at most 31 days after it."""
    if not start < end <= start + MAX_SERIES_SPAN:
        raise HTTPException(422, gettext("expected start < end and a span of at most 31 days"))
    frame = read_series(store_of(request), site_of(request).id, asset_id, quantity, start, end)
    return [
        {"time": t.to_pydatetime(), "value": v, "quality": Quality(int(q)).name.lower()}
        for t, v, q in zip(frame.index, frame["value"], frame["quality"], strict=True)
    ]


# -- forecasts --------------------------------------------------------------------------------


@router.get("/forecasts", tags=["forecasts"])
def forecasts(request: Request, _: Reader) -> list[dict[str, Any]]:
    """Per target and model: the newest issue time and the span it covers."""
    return forecast_issues(store_of(request))


@router.get("/forecast-models", tags=["forecasts"])
def forecast_models(
    request: Request, _: Reader, target: Name | None = None
) -> list[dict[str, Any]]:
    """Model versions with their training period and metrics."""
    return list_forecast_models(store_of(request), target)


@router.get("/forecasts/values", tags=["forecasts"])
def forecast_values(
    request: Request,
    _: Analyst,
    target: Name,
    model_version: Name | None = None,
    issue_time: UtcTime | None = None,
) -> list[dict[str, Any]]:
    """The values of one forecast issue (default: the newest)."""
    return read_forecast(store_of(request), target, now_of(request), model_version, issue_time)


@router.get("/backtests", tags=["forecasts"])
def backtests(request: Request, _: Analyst, limit: Limit = 100) -> list[dict[str, Any]]:
    return list_backtests(store_of(request), limit)


# -- plans ------------------------------------------------------------------------------------


@router.get("/plans", tags=["plans"])
def plans(
    request: Request,
    _: Reader,
    state: Annotated[list[PlanState] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Plans of the site, newest first."""
    return [
        plan_dict(p)
        for p in list_plans(store_of(request), site_of(request).id, state, limit, offset)
    ]


@router.get("/plans/active", tags=["plans"], responses=NOT_FOUND)
def plan_active(request: Request, _: Reader) -> dict[str, Any]:
    plan = active_plan(store_of(request), site_of(request).id, now_of(request))
    if plan is None:
        raise HTTPException(404, gettext("no active plan covers the current time"))
    return plan_dict(plan)


@router.get("/plans/{plan_id}", tags=["plans"], responses=NOT_FOUND)
def plan_detail(request: Request, _: Reader, plan_id: RowId) -> dict[str, Any]:
    return plan_dict(plan_or_404(store_of(request), site_of(request), plan_id))


@router.get("/plans/{plan_id}/values", tags=["plans"], responses=NOT_FOUND)
def plan_values(request: Request, _: Reader, plan_id: RowId) -> JSONResponse:
    """Long rows asset_id, quantity, slot_start (UTC), value."""
    plan = plan_or_404(store_of(request), site_of(request), plan_id)
    return JSONResponse(_records_utc(read_plan_values(store_of(request), plan.id)))


@router.get(
    "/plans/{plan_id}/values.csv",
    tags=["plans"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
def plan_values_csv(request: Request, _: Analyst, plan_id: RowId) -> Response:
    """The plan's values (and its price inputs) as CSV, with UTC and local slot times."""
    site = site_of(request)
    plan = plan_or_404(store_of(request), site, plan_id)
    frame = read_plan_values(store_of(request), plan.id)
    frame.insert(3, "slot_start_local", [format_local(t, site.tz) for t in frame["slot_start"]])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="plan-{plan.id}.csv"'},
    )


@router.get("/plans/{plan_id}/diff", tags=["plans"], responses=NOT_FOUND)
def plan_diff(
    request: Request,
    _: Reader,
    plan_id: RowId,
    against: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> JSONResponse:
    """Per slot the change of this plan against another (default: the active plan)."""
    store, site = store_of(request), site_of(request)
    plan = plan_or_404(store, site, plan_id)
    if against is None:
        reference = active_plan(store, site.id, now_of(request))
        if reference is None:
            raise HTTPException(404, gettext("no active plan to compare against; pass ?against=ID"))
    else:
        reference = plan_or_404(store, site, against)
    diff = diff_plans(store, plan.id, reference.id)
    columns = ["asset_id", "quantity", "slot_start", "value", "value_reference", "change"]
    return JSONResponse(
        {
            "plan_id": plan.id,
            "reference_plan_id": reference.id,
            "rows": _records_utc(diff[columns]),
        }
    )


@router.post("/plans/{plan_id}/approve", tags=["plans"], responses={**NOT_FOUND, **CONFLICT})
def plan_approve(
    request: Request, principal: Controller, plan_id: RowId, body: DecisionIn | None = None
) -> dict[str, Any]:
    return plan_dict(decide(request, principal, plan_id, True, body.note if body else None))


@router.post("/plans/{plan_id}/reject", tags=["plans"], responses={**NOT_FOUND, **CONFLICT})
def plan_reject(
    request: Request, principal: Controller, plan_id: RowId, body: DecisionIn | None = None
) -> dict[str, Any]:
    return plan_dict(decide(request, principal, plan_id, False, body.note if body else None))


# -- overrides and modes --------------------------------------------------------------------


@router.get("/overrides", tags=["controls"])
def overrides(request: Request, _: Reader) -> list[dict[str, Any]]:
    """Overrides in force now, one per asset."""
    return list(active_overrides(store_of(request), site_of(request).id, now_of(request)).values())


@router.post("/overrides", tags=["controls"], status_code=201, responses=NOT_FOUND)
def override_add(request: Request, principal: Controller, body: OverrideIn) -> dict[str, Any]:
    return {"id": create_override(request, principal, body)}


@router.post(
    "/overrides/{override_id}/cancel", tags=["controls"], responses={**NOT_FOUND, **CONFLICT}
)
def override_cancel(request: Request, principal: Controller, override_id: RowId) -> dict[str, Any]:
    try:
        cancel_override(store_of(request), override_id, principal.name, now_of(request))
    except KeyError:
        raise HTTPException(404, gettext("no override with id %(id)s", id=override_id)) from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"id": override_id, "cancelled": True}


@router.get("/modes", tags=["controls"])
def modes(request: Request, _: Reader) -> dict[str, str]:
    """Mode per controllable asset: auto (follows the plan) or manual (only overrides apply)."""
    site = site_of(request)
    stored = asset_modes_of(store_of(request), site.id)
    return {
        a.id: stored[a.id].value if a.id in stored else "auto"
        for a in site.assets
        if a.kind in CONTROLLABLE_KINDS
    }


@router.put("/assets/{asset_id}/mode", tags=["controls"], responses=NOT_FOUND)
def mode_set(
    request: Request, principal: Controller, asset_id: Name, body: ModeIn
) -> dict[str, Any]:
    site = site_of(request)
    asset = asset_or_404(site, asset_id)
    if asset.kind not in CONTROLLABLE_KINDS:
        raise HTTPException(
            422,
            gettext(
                "asset %(asset)s (%(kind)s) is not controllable",
                asset=asset.id,
                kind=asset.kind.value,
            ),
        )
    set_asset_mode(store_of(request), site.id, asset.id, body.mode, principal.name, now_of(request))
    return {"asset_id": asset.id, "mode": body.mode.value}


# -- alarms, audit, jobs, status --------------------------------------------------------------


@router.get("/alarms", tags=["alarms"])
def alarms(
    request: Request, _: Reader, include_cleared: bool = False, limit: Limit = 200
) -> list[dict[str, Any]]:
    return list_alarms(store_of(request), site_of(request).id, not include_cleared, limit)


@router.post("/alarms", tags=["alarms"], status_code=201)
def alarm_raise(request: Request, principal: Controller, body: AlarmIn) -> dict[str, Any]:
    """An operator raises an alarm by hand (e.g. a fault reported by phone)."""
    store, site, now = store_of(request), site_of(request), now_of(request)
    source = body.source or f"operator:{principal.name}"
    alarm_id = raise_alarm(store, site.id, body.code, source, body.severity, body.message, now)
    append_audit(
        store,
        principal.name,
        "alarm.raise_manual",
        f"alarm:{alarm_id}",
        {"code": body.code, "severity": body.severity.value},
        now,
    )
    return {"id": alarm_id}


@router.post("/alarms/{alarm_id}/acknowledge", tags=["alarms"], responses={**NOT_FOUND, **CONFLICT})
def alarm_acknowledge(request: Request, principal: Controller, alarm_id: RowId) -> dict[str, Any]:
    try:
        acknowledge_alarm(store_of(request), alarm_id, principal.name, now_of(request))
    except KeyError:
        raise HTTPException(404, gettext("no alarm with id %(id)s", id=alarm_id)) from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"id": alarm_id, "state": "acknowledged"}


@router.get("/audit", tags=["audit"])
def audit(
    request: Request,
    _: Reader,
    text: Name | None = None,
    actor: Name | None = None,
    action: Name | None = None,
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Newest first; text searches actor, action, target and detail."""
    return read_audit(
        store_of(request),
        since=since,
        until=until,
        actor=actor,
        action=action,
        text=text,
        limit=limit,
        offset=offset,
    )


@router.get("/jobs", tags=["status"])
def jobs(request: Request, _: Reader) -> dict[str, Any]:
    """The newest run of every scheduled job and its newest failure."""
    return job_status(store_of(request), site_of(request).id)


@router.get("/status", tags=["status"])
def status(request: Request, _: Reader) -> dict[str, Any]:
    """The traffic lights of the status page."""
    return build_status(site_of(request), store_of(request), settings_of(request)).as_dict()


@router.get("/setpoint-writes", tags=["status"])
def setpoint_writes(
    request: Request, _: Reader, asset_id: Name | None = None, limit: Limit = 200
) -> list[dict[str, Any]]:
    """Setpoint write attempts with clamping, read-back and outcome, newest first."""
    return [
        asdict(r)
        for r in read_setpoint_writes(
            store_of(request), site_of(request).id, asset_id=asset_id, limit=limit
        )
    ]
