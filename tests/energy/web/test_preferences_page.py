"""The user's own preferences page: language (over Accept-Language and the site default, also at
the next login), e-mail address, opt-in and quiet hours; refusals keep what was stored."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from web_support import Web, login

from energy.store.audit import read_audit
from energy.store.preferences import UserPreferences, get_preferences
from energy.web.i18n import LANG_COOKIE


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def _save(client: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    csrf = _csrf(client, "/account/preferences")
    return client.post("/account/preferences", data={"csrf_token": csrf, **fields})


def test_an_operator_sets_language_address_and_quiet_hours(web: Web) -> None:
    login(web.client, "operator")  # the client asks for English (Accept-Language: en)
    page = web.client.get("/account/preferences")
    assert page.status_code == 200
    assert 'href="/account/preferences"' in page.text  # linked from the header
    done = _save(
        web.client,
        language="de",
        email="erika@example.de",
        notify="1",
        quiet_start="22:00",
        quiet_end="06:30",
    )
    assert done.status_code == 303
    assert done.cookies.get(LANG_COOKIE) == "de"
    shown = web.client.get(done.headers["location"]).text
    assert 'lang="de"' in shown
    assert "Ihre Einstellungen wurden gespeichert." in shown
    assert 'value="22:00"' in shown
    assert get_preferences(web.store, "operator") == UserPreferences(
        language="de",
        email="erika@example.de",
        notify=True,
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(6, 30),
    )
    assert read_audit(web.store, action="user.preferences")[0]["actor"] == "operator"


def test_the_users_language_wins_over_the_browser_at_the_next_login(web: Web) -> None:
    login(web.client, "operator")
    _save(web.client, language="de")
    browser = TestClient(web.app, follow_redirects=False, headers={"Accept-Language": "en"})
    login(browser, "operator")
    assert 'lang="de"' in browser.get("/overview").text
    _save(browser, language="")  # the browser's choice again
    assert get_preferences(web.store, "operator").language is None
    fresh = TestClient(web.app, follow_redirects=False, headers={"Accept-Language": "en"})
    login(fresh, "operator")
    assert 'lang="en"' in fresh.get("/overview").text


def test_bad_preferences_are_refused_and_nothing_changes(web: Web) -> None:
    login(web.client, "operator")
    for fields in (
        {"email": "not an address"},
        {"notify": "1"},
        {"quiet_start": "22:00"},
        {"quiet_start": "25:99", "quiet_end": "06:00"},
        {"language": "fr"},
    ):
        refused = _save(web.client, **fields)
        assert refused.status_code == 422, fields
        assert "preferences were not saved" in refused.text
    assert get_preferences(web.store, "operator") == UserPreferences()
