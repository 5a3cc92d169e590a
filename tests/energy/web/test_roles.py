"""Every API endpoint against every role: what a role may not do is refused (403), what it may do
is not, and nobody gets anything without credentials (401). The matrix must list every route."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from web_support import NOW, PASSWORD, Web, make_plan

from energy.store.alarms import Severity, raise_alarm
from energy.store.controls import OverrideKind, add_override
from energy.store.users import Role, create_token, create_user
from energy.web.auth import ROLE_PERMISSIONS, Permission

READ, CONTROL, ANALYSIS, ADMIN, GRID_LIMITS = (
    Permission.READ,
    Permission.CONTROL,
    Permission.ANALYSIS,
    Permission.ADMIN,
    Permission.GRID_LIMITS,
)

# (method, route path, permission, concrete path, JSON body)
MATRIX: list[tuple[str, str, Permission, str, dict[str, Any] | None]] = [
    ("GET", "/api/me", READ, "/api/me", None),
    ("GET", "/api/sites", READ, "/api/sites", None),
    ("GET", "/api/site", READ, "/api/site", None),
    ("GET", "/api/assets", READ, "/api/assets", None),
    ("GET", "/api/measurements/latest", READ, "/api/measurements/latest", None),
    (
        "GET",
        "/api/measurements/series",
        READ,
        "/api/measurements/series?asset_id=grid.meter&quantity=power_kw"
        "&start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z",
        None,
    ),
    ("GET", "/api/forecasts", READ, "/api/forecasts", None),
    ("GET", "/api/forecast-models", READ, "/api/forecast-models", None),
    ("GET", "/api/forecasts/values", ANALYSIS, "/api/forecasts/values?target=load", None),
    ("GET", "/api/backtests", ANALYSIS, "/api/backtests", None),
    ("GET", "/api/plans", READ, "/api/plans", None),
    ("GET", "/api/plans/active", READ, "/api/plans/active", None),
    ("GET", "/api/plans/{plan_id}", READ, "/api/plans/{plan}", None),
    ("GET", "/api/plans/{plan_id}/values", READ, "/api/plans/{plan}/values", None),
    ("GET", "/api/plans/{plan_id}/values.csv", ANALYSIS, "/api/plans/{plan}/values.csv", None),
    ("GET", "/api/plans/{plan_id}/diff", READ, "/api/plans/{plan}/diff?against={plan}", None),
    ("POST", "/api/plans/{plan_id}/approve", CONTROL, "/api/plans/{plan}/approve", {}),
    ("POST", "/api/plans/{plan_id}/reject", CONTROL, "/api/plans/{plan}/reject", {}),
    ("GET", "/api/overrides", READ, "/api/overrides", None),
    (
        "POST",
        "/api/overrides",
        CONTROL,
        "/api/overrides",
        {"asset_id": "house-01.battery", "kind": "local", "duration_minutes": 30},
    ),
    (
        "POST",
        "/api/overrides/{override_id}/cancel",
        CONTROL,
        "/api/overrides/{override}/cancel",
        None,
    ),
    ("GET", "/api/grid-limits", GRID_LIMITS, "/api/grid-limits", None),
    (
        "POST",
        "/api/grid-limits",
        GRID_LIMITS,
        "/api/grid-limits",
        {"kind": "dimming", "limit_kw": 10.0, "duration_minutes": 30},
    ),
    (
        "POST",
        "/api/grid-limits/{limit_id}/lift",
        GRID_LIMITS,
        "/api/grid-limits/1/lift",
        None,
    ),
    ("GET", "/api/modes", READ, "/api/modes", None),
    (
        "PUT",
        "/api/assets/{asset_id}/mode",
        CONTROL,
        "/api/assets/house-01.hp/mode",
        {"mode": "manual"},
    ),
    ("GET", "/api/alarms", READ, "/api/alarms", None),
    (
        "POST",
        "/api/alarms",
        CONTROL,
        "/api/alarms",
        {"code": "manual", "severity": "warning", "message": "reported by phone"},
    ),
    (
        "POST",
        "/api/alarms/{alarm_id}/acknowledge",
        CONTROL,
        "/api/alarms/{alarm}/acknowledge",
        None,
    ),
    ("GET", "/api/audit", READ, "/api/audit?text=plan", None),
    ("GET", "/api/jobs", READ, "/api/jobs", None),
    ("GET", "/api/status", READ, "/api/status", None),
    ("GET", "/api/setpoint-writes", READ, "/api/setpoint-writes", None),
    ("GET", "/api/users", ADMIN, "/api/users", None),
    (
        "POST",
        "/api/users",
        ADMIN,
        "/api/users",
        {"name": "newcomer", "role": "viewer", "password": "long enough pw"},
    ),
    ("PATCH", "/api/users/{name}", ADMIN, "/api/users/victim", {"role": "analyst"}),
    ("GET", "/api/tokens", ADMIN, "/api/tokens", None),
    ("POST", "/api/users/{name}/tokens", ADMIN, "/api/users/victim/tokens", {"name": "ci"}),
    ("POST", "/api/users/{name}/sessions/end", ADMIN, "/api/users/victim/sessions/end", None),
    ("POST", "/api/tokens/{token_id}/revoke", ADMIN, "/api/tokens/{token}/revoke", None),
]


@pytest.fixture(scope="module")
def ids(matrix_web: Web) -> dict[str, int]:
    """Objects the parametrized paths refer to (fresh ones per role would be nicer, but the
    matrix checks authorization, which happens before any object is looked at)."""
    web = matrix_web
    plan = make_plan(web.site, web.store)
    override = add_override(
        web.store,
        web.site.id,
        "house-01.battery",
        OverrideKind.LOCAL,
        None,
        NOW + dt.timedelta(hours=1),
        "test",
        NOW,
    )
    alarm = raise_alarm(
        web.store, web.site.id, "comm", "house-01.pv", Severity.WARNING, "no answer", NOW
    )
    create_user(web.store, "victim", PASSWORD, Role.VIEWER, "test", NOW)
    _, token = create_token(web.store, "victim", "old", "test", NOW)
    return {"plan": plan.id, "override": override, "alarm": alarm, "token": token.id}


def _concrete(path: str, ids: dict[str, int]) -> str:
    return path.format(**ids)


def _call(web: Web, method: str, path: str, body: dict | None, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return web.client.request(method, path, json=body, headers=headers)


def test_matrix_covers_every_api_operation(matrix_web: Web) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in matrix_web.app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    listed = {(method, path) for method, path, *_ in MATRIX}
    assert routes == listed


@pytest.mark.parametrize(("method", "route", "permission", "path", "body"), MATRIX)
def test_anonymous_is_refused(
    matrix_web: Web,
    ids: dict[str, int],
    method: str,
    route: str,
    permission: Permission,
    path: str,
    body: dict | None,
) -> None:
    response = _call(matrix_web, method, _concrete(path, ids), body, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    wrong = _call(
        matrix_web, method, _concrete(path, ids), body, {"Authorization": "Bearer kvt_nope"}
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "route", "permission", "path", "body"), MATRIX)
def test_role_is_held_to_its_permissions(
    matrix_web: Web,
    ids: dict[str, int],
    role: Role,
    method: str,
    route: str,
    permission: Permission,
    path: str,
    body: dict | None,
) -> None:
    response = _call(matrix_web, method, _concrete(path, ids), body, matrix_web.auth(role))
    if permission in ROLE_PERMISSIONS[role]:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert role.value in response.json()["detail"]


def test_refused_control_changes_nothing(matrix_web: Web, ids: dict[str, int]) -> None:
    web = matrix_web
    plan = make_plan(web.site, web.store, start=NOW + dt.timedelta(hours=2))
    for role in (Role.VIEWER, Role.ANALYST):
        assert (
            web.client.post(f"/api/plans/{plan.id}/approve", headers=web.auth(role)).status_code
            == 403
        )
    detail = web.client.get(f"/api/plans/{plan.id}", headers=web.auth(Role.VIEWER)).json()
    assert detail["state"] == "proposed"
    assert detail["decided_by"] is None
