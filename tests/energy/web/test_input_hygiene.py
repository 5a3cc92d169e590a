"""Text the store cannot hold, or a response cannot encode, is a 422 and never a 500."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from web_support import Web

from energy.store.users import Role
from energy.web.text import encodable, text_problem

LONE_SURROGATE = '"a\\ud800b"'  # as JSON text: the escape decodes to a lone surrogate


def _post_json(web: Web, path: str, body_text: str, role: Role) -> int:
    headers = {**web.auth(role), "content-type": "application/json"}
    response = web.client.post(path, content=body_text.encode(), headers=headers)
    response.json()  # the error echo is valid JSON
    return response.status_code


def test_a_lone_surrogate_in_an_override_reason_is_a_422(web: Web) -> None:
    body = (
        '{"asset_id": "house-01.battery", "kind": "local", "duration_minutes": 30, '
        f'"reason": {LONE_SURROGATE}}}'
    )
    assert _post_json(web, "/api/overrides", body, Role.OPERATOR) == 422


def test_a_lone_surrogate_in_an_alarm_message_is_a_422(web: Web) -> None:
    body = f'{{"code": "manual", "severity": "warning", "message": {LONE_SURROGATE}}}'
    assert _post_json(web, "/api/alarms", body, Role.OPERATOR) == 422


def test_a_nul_in_the_login_name_is_a_422(web: Web) -> None:
    page = web.client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    response = web.client.post(
        "/login",
        data={"username": "oper\x00ator", "password": "x" * 12, "csrf_token": csrf.group(1)},
    )
    assert response.status_code == 422
    assert "NUL" in response.text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_problem_accepts_exactly_what_can_be_stored_and_encoded(value: str) -> None:
    problem = text_problem(value)
    storable = not any(
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in value
    )
    assert (problem is None) == storable
    assert isinstance(encodable(value).encode("utf-8"), bytes)  # never raises
