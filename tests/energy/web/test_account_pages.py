"""Self-service password change and the user administration pages, audited in the hash chain."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_support import PASSWORD, Web, login

from energy.store.audit import read_audit
from energy.store.chain import verify_chain
from energy.store.users import Role, authenticate, get_user, list_tokens

NEW_PASSWORD = "a much longer new secret"


def _csrf(web: Web, path: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', web.client.get(path).text)
    assert found is not None
    return found.group(1)


def test_an_operator_changes_their_password_and_stays_logged_in(web: Web) -> None:
    login(web.client, "operator")
    other = TestClient(web.app, follow_redirects=False)
    login(other, "operator")  # a second browser
    csrf = _csrf(web, "/account/password")
    wrong = web.client.post(
        "/account/password",
        data={"current": "not it", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert wrong.status_code == 422
    assert "current password is wrong" in wrong.text
    differ = web.client.post(
        "/account/password",
        data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": "else", "csrf_token": csrf},
    )
    assert differ.status_code == 422
    assert "differ" in differ.text
    done = web.client.post(
        "/account/password",
        data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert done.status_code == 303
    assert "password was changed" in web.client.get(done.headers["location"]).text
    assert authenticate(web.store, "operator", NEW_PASSWORD) is not None
    assert authenticate(web.store, "operator", PASSWORD) is None
    assert web.client.get("/status").status_code == 200  # this browser goes on
    assert other.get("/status").status_code == 303  # the other one is logged out
    actions = [e["action"] for e in read_audit(web.store, text="operator")]
    assert "auth.password_change_failed" in actions
    assert "user.update" in actions
    assert verify_chain(web.store, "audit_log").ok


def test_an_api_token_cannot_change_a_password(web: Web) -> None:
    response = web.client.post(
        "/account/password",
        data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
        headers=web.auth(Role.OPERATOR),
    )
    assert response.status_code == 403


def test_only_admins_see_the_user_pages(web: Web) -> None:
    login(web.client, "operator")
    assert web.client.get("/admin/users").status_code == 403
    assert 'href="/admin/users"' not in web.client.get("/status").text


def test_an_admin_adds_disables_resets_and_ends_sessions(web: Web) -> None:
    login(web.client, "admin")
    csrf = _csrf(web, "/admin/users")
    added = web.client.post(
        "/admin/users",
        data={
            "name": "schichtleiter",
            "role": "operator",
            "password": NEW_PASSWORD,
            "csrf_token": csrf,
        },
    )
    assert added.status_code == 303
    assert get_user(web.store, "schichtleiter").role is Role.OPERATOR
    again = web.client.post(
        "/admin/users",
        data={
            "name": "schichtleiter",
            "role": "viewer",
            "password": NEW_PASSWORD,
            "csrf_token": csrf,
        },
    )
    assert again.status_code == 409
    assert "exists already" in again.text

    # the new user logs in elsewhere; the admin ends that session
    other = TestClient(web.app, follow_redirects=False)
    login(other, "schichtleiter", NEW_PASSWORD)
    ended = web.client.post("/admin/users/schichtleiter/sessions/end", data={"csrf_token": csrf})
    assert ended.status_code == 303
    assert other.get("/status").status_code == 303

    web.client.post("/admin/users/schichtleiter", data={"role": "viewer", "csrf_token": csrf})
    assert get_user(web.store, "schichtleiter").role is Role.VIEWER
    reset = web.client.post(
        "/admin/users/schichtleiter", data={"password": "short", "csrf_token": csrf}
    )
    assert reset.status_code == 422
    web.client.post(
        "/admin/users/schichtleiter", data={"password": PASSWORD + "!", "csrf_token": csrf}
    )
    assert authenticate(web.store, "schichtleiter", PASSWORD + "!") is not None
    web.client.post("/admin/users/schichtleiter", data={"disabled": "true", "csrf_token": csrf})
    assert get_user(web.store, "schichtleiter").disabled
    assert authenticate(web.store, "schichtleiter", PASSWORD + "!") is None

    token = next(t for t in list_tokens(web.store) if t.user_name == "viewer")
    revoked = web.client.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert web.client.get("/api/plans", headers=web.auth(Role.VIEWER)).status_code == 401

    actions = [e["action"] for e in read_audit(web.store, text="schichtleiter")]
    assert {"user.add", "user.update", "user.sessions_end"} <= set(actions)
    assert verify_chain(web.store, "audit_log").ok


def test_the_last_admin_cannot_be_disabled_and_forms_need_the_csrf_token(web: Web) -> None:
    login(web.client, "admin")
    csrf = _csrf(web, "/admin/users")
    assert web.client.post("/admin/users/admin", data={"disabled": "true"}).status_code == 403
    refused = web.client.post("/admin/users/admin", data={"disabled": "true", "csrf_token": csrf})
    assert refused.status_code == 409
    assert not get_user(web.store, "admin").disabled
