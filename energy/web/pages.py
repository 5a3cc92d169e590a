"""Server-rendered pages: login, district overview, houses, status, plans, plan detail, controls
and the audit log.

Pages show local time (the site's zone, with UTC offsets); forms post with the session's CSRF token
and redirect afterwards (post/redirect/get), so a reload never repeats an approval.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from energy.site import Site
from energy.store.alarms import acknowledge_alarms
from energy.store.audit import append_audit, read_audit
from energy.store.controls import active_overrides, asset_modes_of
from energy.store.engine import Store
from energy.store.incidents import open_incidents
from energy.store.plans import PlanState, list_plans, proposal_expires_at
from energy.store.preferences import get_preferences
from energy.store.sessions import end_session
from energy.store.users import authenticate
from energy.web.actions import CONTROLLABLE_KINDS, decide, override_limits, plan_or_404
from energy.web.auth import (
    CsrfError,
    Permission,
    Principal,
    check_csrf,
    csrf_token_of,
    require,
    start_session,
)
from energy.web.house_view import HISTORY_DAYS, build_house_view, house_or_404
from energy.web.i18n import LANG_COOKIE, LANGUAGES
from energy.web.i18n import gettext as _
from energy.web.labels import asset_label
from energy.web.overview_view import build_overview
from energy.web.plan_view import build_plan_view
from energy.web.schemas import RowId
from energy.web.status_view import build_status
from energy.web.text import text_problem

__all__ = ["remember_language", "render", "router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require(Permission.READ))]
Controller = Annotated[Principal, Depends(require(Permission.CONTROL))]

LANDING_PAGE = "/overview"


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    state = request.app.state
    return state.templates.TemplateResponse(
        request,
        template,
        {
            "site": state.site,
            "principal": principal,
            "csrf_token": csrf_token_of(request),
            "Permission": Permission,
            **context,
        },
        status_code=status_code,
    )


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: no open redirect through the login form."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and text_problem(target) is None
    ):
        return target
    return LANDING_PAGE


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/", response_class=RedirectResponse)
def index() -> RedirectResponse:
    return RedirectResponse(LANDING_PAGE, status_code=303)


def remember_language(response: Response, language: str | None) -> None:
    """Make a language this browser's for a year (the cookie energy.web.i18n reads first);
    None forgets the choice."""
    if language is None:
        response.delete_cookie(LANG_COOKIE, samesite="strict", httponly=True)
    else:
        response.set_cookie(
            LANG_COOKIE, language, max_age=365 * 24 * 3600, samesite="strict", httponly=True
        )


@router.get("/language/{language}")
def choose_language(language: str, next: str | None = None) -> RedirectResponse:
    """The header's language switch."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if language in LANGUAGES:
        remember_language(response, language)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = LANDING_PAGE,
) -> Response:
    state = request.app.state
    store: Store = state.store
    now = state.settings.clock()
    address = _client(request)
    target = _safe_next(next)
    try:
        await check_csrf(request)
    except CsrfError:
        return render(
            request, "login.html", None, 400, next=target, error=_("The form expired; try again.")
        )
    problem = text_problem(username)
    if problem is not None:  # PostgreSQL refuses NUL; nobody's name has control characters
        return render(
            request,
            "login.html",
            None,
            422,
            next=target,
            error=_("The user name contains %(problem)s.", problem=problem),
        )
    keys = [f"user:{username.lower()}", f"addr:{address}"]
    limiter = state.limiter
    if limiter.blocked(keys):
        append_audit(
            store, username, "auth.login_throttled", f"user:{username}", {"address": address}, now
        )
        response = render(
            request,
            "login.html",
            None,
            429,
            next=target,
            error=_("Too many failed logins. Wait a few minutes and try again."),
        )
        response.headers["Retry-After"] = str(limiter.retry_after_s(keys))
        return response
    user = authenticate(store, username, password)
    if user is None:
        limiter.record_failure(keys)
        append_audit(
            store, username, "auth.login_failed", f"user:{username}", {"address": address}, now
        )
        return render(
            request, "login.html", None, 401, next=target, error=_("Wrong user name or password.")
        )
    limiter.reset(keys[0])
    start_session(request, user)
    append_audit(store, user.name, "auth.login", f"user:{user.name}", {"address": address}, now)
    redirect = RedirectResponse(target, status_code=303)
    language = get_preferences(store, user.name).language
    if language is not None:  # the user's own choice wins over what the browser asks for
        remember_language(redirect, language)
    return redirect


@router.post("/logout")
def logout(request: Request, principal: Reader) -> RedirectResponse:
    state = request.app.state
    append_audit(
        state.store,
        principal.name,
        "auth.logout",
        f"user:{principal.name}",
        {},
        state.settings.clock(),
    )
    sid = request.session.get("sid")
    if isinstance(sid, str):
        end_session(state.store, sid, state.settings.clock(), "logout")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, principal: Reader) -> HTMLResponse:
    state = request.app.state
    overview = build_overview(state.site, state.store, state.settings)
    return render(request, "overview.html", principal, overview=overview)


@router.get("/houses/{house_id}", response_class=HTMLResponse)
def house_page(
    request: Request,
    principal: Reader,
    house_id: Annotated[str, PathParam(max_length=64)],
    days: Annotated[int, Query(ge=1, le=7)] = HISTORY_DAYS,
) -> HTMLResponse:
    state = request.app.state
    house = house_or_404(state.site, house_id)
    view = build_house_view(state.site, state.store, house, state.settings, days)
    return render(request, "house.html", principal, view=view)


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request, principal: Reader) -> HTMLResponse:
    state = request.app.state
    report = build_status(state.site, state.store, state.settings)
    return render(request, "status.html", principal, report=report)


@router.get("/plans", response_class=HTMLResponse)
def plans_page(
    request: Request,
    principal: Reader,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    state = request.app.state
    site: Site = state.site
    plans = list_plans(state.store, site.id, limit=50, offset=offset)
    return render(request, "plans.html", principal, plans=plans, offset=offset)


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(request: Request, principal: Reader, plan_id: RowId) -> HTMLResponse:
    state = request.app.state
    plan = plan_or_404(state.store, state.site, plan_id)
    now = state.settings.clock()
    view = build_plan_view(state.site, state.store, plan, now)
    valid_until = proposal_expires_at(plan, state.site.config.control.proposal_valid)
    proposed = plan.state is PlanState.PROPOSED
    return render(
        request,
        "plan.html",
        principal,
        view=view,
        decidable=proposed and now < valid_until,
        valid_until=valid_until if proposed else None,
        lapsed=proposed and now >= valid_until,
    )


@router.post("/plans/{plan_id}/decision")
def plan_decision(
    request: Request,
    principal: Controller,
    plan_id: RowId,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    decide(request, principal, plan_id, decision == "approve", note.strip() or None)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.get("/controls", response_class=HTMLResponse)
def controls_page(request: Request, principal: Reader) -> HTMLResponse:
    state = request.app.state
    site: Site = state.site
    now = state.settings.clock()
    modes = asset_modes_of(state.store, site.id)
    in_force = active_overrides(state.store, site.id, now)
    assets = [
        {
            "id": a.id,
            "label": asset_label(site, a.id),
            "kind": a.kind.value,
            "mode": modes[a.id].value if a.id in modes else "auto",
            "override": in_force.get(a.id),
            "limits": override_limits(a),
        }
        for a in site.assets
        if a.kind in CONTROLLABLE_KINDS
    ]
    incidents = open_incidents(state.store, site.id)
    return render(request, "controls.html", principal, assets=assets, incidents=incidents)


@router.post("/incidents/acknowledge")
def incident_acknowledge(
    request: Request,
    principal: Controller,
    alarm_ids: Annotated[list[RowId], Form(min_length=1, max_length=10_000)],
) -> RedirectResponse:
    """Acknowledge every active alarm of one incident (ids the page lists with it)."""
    state = request.app.state
    acknowledged = acknowledge_alarms(
        state.store, state.site.id, alarm_ids, principal.name, state.settings.clock()
    )
    log.info("%s acknowledged alarms %s", principal.name, acknowledged)
    return RedirectResponse("/controls", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: Reader,
    q: Annotated[str, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    state = request.app.state
    entries = read_audit(state.store, text=q or None, limit=100, offset=offset)
    return render(request, "audit.html", principal, entries=entries, q=q, offset=offset)
