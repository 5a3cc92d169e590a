"""Browser sessions: login and logout, cookie flags, CSRF, rate-limited logins, page access."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_support import NOW, PASSWORD, SECRET, Clock, Web, build_web, login, make_plan, seed_users

from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.users import Role, update_user
from energy.web import WebSettings, create_app
from energy.web.auth import ROLE_PERMISSIONS, Permission


@pytest.fixture
def sweb(site: Site, sqlite_store: Store) -> Web:
    return build_web(site, sqlite_store)


def _login_csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match is not None
    return match.group(1)


def _attempt(client: TestClient, name: str, password: str) -> int:
    csrf = _login_csrf(client)
    response = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": csrf}
    )
    return response.status_code


def test_login_sets_a_strict_httponly_session_and_is_audited(sweb: Web) -> None:
    csrf = _login_csrf(sweb.client)
    response = sweb.client.post(
        "/login",
        data={"username": "operator", "password": PASSWORD, "csrf_token": csrf, "next": "/plans"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/plans"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert sweb.client.get("/plans").status_code == 200
    entry = read_audit(sweb.store, action="auth.login")[0]
    assert (entry["actor"], entry["detail"]["address"]) == ("operator", "testclient")


def test_session_csrf_token_is_rotated_at_login(sweb: Web) -> None:
    before = _login_csrf(sweb.client)
    after = login(sweb.client, "viewer")
    assert before != after


def test_wrong_password_is_refused_and_audited(sweb: Web) -> None:
    assert _attempt(sweb.client, "operator", "not the password") == 401
    assert _attempt(sweb.client, "nobody", "not the password") == 401
    failed = read_audit(sweb.store, action="auth.login_failed")
    assert [e["actor"] for e in failed] == ["nobody", "operator"]
    assert sweb.client.get("/status").status_code == 303


def test_login_without_csrf_token_is_refused(sweb: Web) -> None:
    sweb.client.get("/login")
    response = sweb.client.post("/login", data={"username": "operator", "password": PASSWORD})
    assert response.status_code == 400
    assert sweb.client.get("/status").status_code == 303


def test_failed_logins_per_user_are_rate_limited_until_the_window_passes(sweb: Web) -> None:
    for _ in range(5):
        assert _attempt(sweb.client, "operator", "wrong password") == 401
    assert _attempt(sweb.client, "operator", PASSWORD) == 429
    assert read_audit(sweb.store, action="auth.login_throttled")
    sweb.clock.advance(minutes=5, seconds=1)
    assert _attempt(sweb.client, "operator", PASSWORD) == 303


def test_failed_logins_per_address_are_rate_limited(sweb: Web) -> None:
    for index in range(5):
        assert _attempt(sweb.client, f"guess{index}", "wrong password") == 401
    assert _attempt(sweb.client, "viewer", PASSWORD) == 429


def test_rate_limit_runs_on_wall_time_not_the_platform_clock(
    site: Site, sqlite_store: Store
) -> None:
    """Under an accelerated simulation the platform clock races; the login window must not."""
    platform_clock = Clock(NOW)
    seed_users(sqlite_store)
    app = create_app(site, sqlite_store, WebSettings(secret_key=SECRET, clock=platform_clock))
    client = TestClient(app, follow_redirects=False)
    for _ in range(5):
        assert _attempt(client, "operator", "wrong password") == 401
    platform_clock.advance(hours=1)
    assert _attempt(client, "operator", PASSWORD) == 429


def test_rate_limited_response_says_when_to_retry(sweb: Web) -> None:
    for _ in range(5):
        _attempt(sweb.client, "admin", "wrong password")
    sweb.clock.advance(seconds=100)
    csrf = _login_csrf(sweb.client)
    response = sweb.client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "200"


def test_state_change_on_a_session_needs_the_csrf_token(sweb: Web) -> None:
    plan = make_plan(sweb.site, sweb.store)
    csrf = login(sweb.client, "operator")
    refused = sweb.client.post(f"/api/plans/{plan.id}/approve", json={})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    wrong = sweb.client.post(
        f"/api/plans/{plan.id}/approve", json={}, headers={"X-CSRF-Token": "forged"}
    )
    assert wrong.status_code == 403
    accepted = sweb.client.post(
        f"/api/plans/{plan.id}/approve", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 200
    assert accepted.json()["decided_by"] == "operator"


def test_plan_decision_form(sweb: Web) -> None:
    plan = make_plan(sweb.site, sweb.store)
    csrf = login(sweb.client, "operator")
    forged = sweb.client.post(f"/plans/{plan.id}/decision", data={"decision": "approve"})
    assert forged.status_code == 403
    response = sweb.client.post(
        f"/plans/{plan.id}/decision",
        data={"decision": "reject", "note": "prices look wrong", "csrf_token": csrf},
    )
    assert response.status_code == 303
    page = sweb.client.get(f"/plans/{plan.id}").text
    assert "rejected by operator" in page
    assert "prices look wrong" in page


def test_viewer_session_cannot_decide_and_sees_no_buttons(sweb: Web) -> None:
    plan = make_plan(sweb.site, sweb.store)
    csrf = login(sweb.client, "viewer")
    assert 'id="approve"' not in sweb.client.get(f"/plans/{plan.id}").text
    response = sweb.client.post(
        f"/plans/{plan.id}/decision", data={"decision": "approve", "csrf_token": csrf}
    )
    assert response.status_code == 403


def test_logout_ends_the_session(sweb: Web) -> None:
    csrf = login(sweb.client, "analyst")
    response = sweb.client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert sweb.client.get("/status").status_code == 303
    expired = sweb.client.post("/plans/1/decision", data={"decision": "approve"})
    assert (expired.status_code, expired.headers["location"]) == (303, "/login?next=/status")
    assert read_audit(sweb.store, action="auth.logout")[0]["actor"] == "analyst"


def test_disabled_user_loses_the_session_at_once(sweb: Web) -> None:
    login(sweb.client, "viewer")
    update_user(sweb.store, "viewer", "admin", sweb.clock(), disabled=True)
    assert sweb.client.get("/status").status_code == 303
    assert sweb.client.get("/api/me").status_code == 401


def test_password_change_ends_older_sessions(sweb: Web) -> None:
    login(sweb.client, "viewer")
    update_user(sweb.store, "viewer", "admin", sweb.clock(), role=Role.ANALYST)
    assert sweb.client.get("/api/me").json()["role"] == "analyst"  # same session, new role
    update_user(sweb.store, "viewer", "admin", sweb.clock(), password=PASSWORD + " new")
    assert sweb.client.get("/api/me").status_code == 401
    login(sweb.client, "viewer", PASSWORD + " new")
    assert sweb.client.get("/api/me").status_code == 200


def test_pages_redirect_to_login_and_never_off_site(sweb: Web) -> None:
    response = sweb.client.get("/plans?offset=0")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/plans?offset=0"
    csrf = _login_csrf(sweb.client)
    response = sweb.client.post(
        "/login",
        data={
            "username": "viewer",
            "password": PASSWORD,
            "csrf_token": csrf,
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/status"


def test_static_assets_and_security_headers(sweb: Web) -> None:
    plotly_js = sweb.client.get("/static/vendor/plotly.min.js")
    assert plotly_js.status_code == 200
    assert "plotly" in plotly_js.text[:2000].lower()
    page = sweb.client.get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_every_page_renders_for_every_role_that_may_read(sweb: Web) -> None:
    plan = make_plan(sweb.site, sweb.store)
    for role in Role:
        client = TestClient(sweb.app, follow_redirects=False)
        login(client, role.value)
        # the grid operator's account sets grid limits through the API and sees no page
        expected = 200 if Permission.READ in ROLE_PERMISSIONS[role] else 403
        for path in ("/status", "/plans", f"/plans/{plan.id}", "/controls", "/audit?q=plan"):
            assert client.get(path).status_code == expected, (role, path)


def _copied_session(sweb: Web) -> TestClient:
    """A second client carrying a copy of the logged-in client's session cookie."""
    thief = TestClient(sweb.app, follow_redirects=False)
    for name, value in sweb.client.cookies.items():
        thief.cookies.set(name, value)
    return thief


def test_a_cookie_copied_before_logout_is_worthless_after_it(sweb: Web) -> None:
    csrf = login(sweb.client, "operator")
    thief = _copied_session(sweb)
    assert thief.get("/api/me").status_code == 200  # the copy works while the session lives
    assert sweb.client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert thief.get("/api/me").status_code == 401
    assert thief.get("/status").status_code == 303


def test_an_admin_ends_a_users_sessions(sweb: Web) -> None:
    login(sweb.client, "viewer")
    response = sweb.client.post("/api/users/viewer/sessions/end", headers=sweb.auth(Role.ADMIN))
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 1
    assert sweb.client.get("/api/me").status_code == 401
    assert read_audit(sweb.store, action="user.sessions_end")[0]["actor"] == "admin"
    assert (
        sweb.client.post(
            "/api/users/nobody/sessions/end", headers=sweb.auth(Role.ADMIN)
        ).status_code
        == 404
    )


def test_a_password_change_ends_copies_of_the_session_too(sweb: Web) -> None:
    login(sweb.client, "viewer")
    thief = _copied_session(sweb)
    update_user(sweb.store, "viewer", "admin", sweb.clock(), password=PASSWORD + " new")
    assert thief.get("/api/me").status_code == 401
