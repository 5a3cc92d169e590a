"""A status row per publication target on /status, and the alarm when a target has failed for
longer than its limit (cleared by the next success)."""

from __future__ import annotations

import datetime as dt

import pytest

from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.publication import (
    ALARM_CODE,
    PublicationAttempt,
    publication_status,
    record_publication,
)
from energy.web.settings import WebSettings
from energy.web.status_view import Level, build_status
from tests.energy.datahub.conftest import NOW, with_consent
from tests.energy.web.web_support import build_web, login

LIMIT_S = 600.0


def _fail(store: Store, site: Site, at: dt.datetime, waiting: int) -> bool:
    attempt = PublicationAttempt(
        "mqtt", "mqtt://broker:8883", False, "connection refused", waiting, 0
    )
    return record_publication(store, site.id, attempt, LIMIT_S, at)


def test_an_alarm_once_a_target_fails_longer_than_its_limit(
    sqlite_store: Store, site: Site
) -> None:
    ok = PublicationAttempt("mqtt", "mqtt://broker:8883", True, queue_length=0, sent=5)
    assert not record_publication(sqlite_store, site.id, ok, LIMIT_S, NOW)
    assert not _fail(sqlite_store, site, NOW + dt.timedelta(minutes=1), 10)
    assert not _fail(sqlite_store, site, NOW + dt.timedelta(minutes=9), 90)
    assert not list_alarms(sqlite_store, site.id, open_only=True)
    assert _fail(sqlite_store, site, NOW + dt.timedelta(minutes=12), 120)
    (alarm,) = list_alarms(sqlite_store, site.id, open_only=True)
    assert alarm["code"] == ALARM_CODE
    assert alarm["source"] == "mqtt"
    assert "120 messages waiting" in alarm["message"]
    (row,) = publication_status(sqlite_store, site.id)
    assert row["failing_since"] == NOW + dt.timedelta(minutes=1)
    assert row["last_success_at"] == NOW
    assert row["sent_total"] == 5
    assert not record_publication(
        sqlite_store, site.id, ok, LIMIT_S, NOW + dt.timedelta(minutes=13)
    )
    assert not list_alarms(sqlite_store, site.id, open_only=True)
    assert publication_status(sqlite_store, site.id)[0]["failing_since"] is None


@pytest.mark.slow
def test_the_status_light_and_page_show_each_target(sqlite_store: Store, site: Site) -> None:
    hub = with_consent(
        site, {}, mqtt={"enabled": True, "alarm_after_s": LIMIT_S}, ngsi_ld={"enabled": True}
    )
    _fail(sqlite_store, hub, NOW - dt.timedelta(minutes=20), 1500)
    report = build_status(hub, sqlite_store, WebSettings(clock=lambda: NOW))
    light = report.light("Data hub")
    assert light.level is Level.BAD
    rows = {r["target"]: r for r in light.rows}
    assert rows["mqtt"]["queue_length"] == 1500
    assert rows["mqtt"]["level"] is Level.BAD
    assert rows["ngsi_ld"]["level"] is Level.UNKNOWN  # enabled, nothing attempted yet
    web = build_web(hub, sqlite_store)
    with web.client:
        login(web.client, "viewer")
        page = web.client.get("/status").text
        api = web.client.get("/api/status", headers=web.auth("viewer")).json()
    assert "Data hub (publication targets)" in page
    assert "mqtt://broker:8883" in page
    assert "connection refused" in page
    hub_light = next(x for x in api["lights"] if x["name"] == "Data hub")
    assert hub_light["rows"][0]["queue_length"] == 1500
