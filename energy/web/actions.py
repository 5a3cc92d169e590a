"""What the API and the pages both do: find the app's site, store and clock, look objects up
(404 when missing), decide plans and validate overrides. Failures are HTTPExceptions, which the
app renders as JSON for /api and as an error page elsewhere.
"""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException, Request

from energy.config import BatteryConfig, EVChargerConfig, HeatPumpConfig, PVConfig
from energy.site import CONTROLLABLE_KINDS, Asset, Site
from energy.store.controls import OverrideKind, add_override
from energy.store.engine import Store
from energy.store.plans import PlanRecord, PlanTransitionError, decide_plan, get_plan
from energy.web.auth import Principal
from energy.web.i18n import gettext as _
from energy.web.localtime import format_local
from energy.web.schemas import OverrideIn
from energy.web.settings import WebSettings

__all__ = [
    "CONTROLLABLE_KINDS",
    "asset_or_404",
    "create_override",
    "decide",
    "now_of",
    "override_limits",
    "plan_or_404",
    "settings_of",
    "site_of",
    "store_of",
]


def site_of(request: Request) -> Site:
    return request.app.state.site


def store_of(request: Request) -> Store:
    return request.app.state.store


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def now_of(request: Request) -> dt.datetime:
    return settings_of(request).clock()


def asset_or_404(site: Site, asset_id: str) -> Asset:
    try:
        return site.asset(asset_id)
    except KeyError:
        raise HTTPException(
            404, _("site %(site)s has no asset %(asset)r", site=site.id, asset=asset_id)
        ) from None


def override_limits(asset: Asset) -> tuple[float, float]:
    """The setpoint range an override may ask of an asset, in kW, from the site config."""
    params = asset.params
    if isinstance(params, BatteryConfig):
        return -params.discharge_max_kw, params.charge_max_kw
    if isinstance(params, HeatPumpConfig):
        return 0.0, params.electric_max_kw
    if isinstance(params, PVConfig):
        return 0.0, params.peak_kw
    if isinstance(params, EVChargerConfig):
        return 0.0, params.charge_max_kw
    raise HTTPException(
        422,
        _("asset %(asset)s (%(kind)s) takes no setpoint", asset=asset.id, kind=asset.kind.value),
    )


def plan_or_404(store: Store, site: Site, plan_id: int) -> PlanRecord:
    try:
        plan = get_plan(store, plan_id)
    except KeyError:
        raise HTTPException(404, _("no plan with id %(id)s", id=plan_id)) from None
    if plan.site_id != site.id:
        raise HTTPException(
            404, _("no plan with id %(id)s at site %(site)s", id=plan_id, site=site.id)
        )
    return plan


def decide(
    request: Request, principal: Principal, plan_id: int, approve: bool, note: str | None
) -> PlanRecord:
    """Approve or reject; shared by the API and the plan page."""
    store, site, now = store_of(request), site_of(request), now_of(request)
    plan = plan_or_404(store, site, plan_id)
    if plan.horizon_end <= now:
        raise HTTPException(
            409,
            _(
                "plan %(id)s ended at %(time)s",
                id=plan.id,
                time=format_local(plan.horizon_end, site.tz),
            ),
        )
    try:
        return decide_plan(
            store,
            plan.id,
            approve,
            principal.name,
            now,
            note,
            proposal_valid=site.config.control.proposal_valid,
        )
    except PlanTransitionError as exc:
        raise HTTPException(409, str(exc)) from None


def create_override(request: Request, principal: Principal, body: OverrideIn) -> int:
    """Validate and store an override; shared by the API and the controls page."""
    site, now = site_of(request), now_of(request)
    asset = asset_or_404(site, body.asset_id)
    if asset.kind not in CONTROLLABLE_KINDS:
        raise HTTPException(
            422,
            _(
                "asset %(asset)s (%(kind)s) is not controllable",
                asset=asset.id,
                kind=asset.kind.value,
            ),
        )
    if (body.expires_at is None) == (body.duration_minutes is None):
        raise HTTPException(422, _("give exactly one of expires_at and duration_minutes"))
    expires = body.expires_at or now + dt.timedelta(minutes=body.duration_minutes or 0)
    longest = dt.timedelta(hours=settings_of(request).max_override_hours)
    if not now < expires <= now + longest:
        raise HTTPException(
            422,
            _(
                "expiry must be in the future and at most %(hours)s h ahead",
                hours=f"{longest.total_seconds() / 3600:g}",
            ),
        )
    if body.kind is OverrideKind.SETPOINT:
        if body.value is None:
            raise HTTPException(422, _("a setpoint override needs a value"))
        low, high = override_limits(asset)
        if not low <= body.value <= high:
            raise HTTPException(
                422,
                _(
                    "%(asset)s: setpoint %(value)s kW outside %(low)s..%(high)s kW",
                    asset=asset.id,
                    value=f"{body.value:g}",
                    low=f"{low:g}",
                    high=f"{high:g}",
                ),
            )
    return add_override(
        store_of(request),
        site.id,
        asset.id,
        body.kind,
        body.value if body.kind is OverrideKind.SETPOINT else None,
        expires,
        principal.name,
        now,
        body.reason,
    )
