"""Alarm messages in the reader's language: the control loop's texts with a key are shown
through the catalogue, times in local time; other messages as stored, marked English."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from web_support import NOW, Web, login

from energy.alarm_texts import alarm_text
from energy.control.release import AUTO_RELEASE_ACTOR
from energy.store.alarms import Severity, raise_alarm
from energy.store.audit import append_audit
from energy.store.jobs import finish_job_run, start_job_run
from energy.web.alarm_messages import shown_message
from energy.web.i18n import language_scope

BERLIN = ZoneInfo("Europe/Berlin")


def _stale(now: dt.datetime) -> str:
    reason = alarm_text(
        "stale.old",
        asset="house-02.battery",
        quantity="soc_frac",
        age_s=95,
        now_at=now,
        limit_s=30.0,
    )
    return alarm_text("dispatch.released", reason=reason)


def test_a_stale_device_reads_german_with_local_time_and_english_with_it_too(web: Web) -> None:
    raise_alarm(
        web.store,
        web.site.id,
        "stale_input",
        "house-02.battery",
        Severity.CRITICAL,
        _stale(NOW),
        NOW,
    )
    login(web.client, "operator")
    english = web.client.get("/controls").text
    assert (
        "house-02.battery: newest soc_frac is 95 s old at 24.11.2026 07:00:00 +01:00 "
        "(limit 30 s): not controlled, released to local mode"
    ) in english
    web.client.cookies.set("kv_lang", "de")
    for path in ("/controls", "/status"):
        german = web.client.get(path).text
        assert (
            "house-02.battery: neuester Wert soc_frac ist am 24.11.2026 07:00:00 +01:00 95 s alt "
            "(Grenze 30 s): nicht gesteuert, an die lokale Regelung übergeben"
        ) in german, path
        assert "2026-11-24T06:00:00+00:00" not in german


def test_a_message_without_a_key_is_shown_as_stored_and_marked_english() -> None:
    with language_scope("de"):
        raw = shown_message("raised by hand", None, None, BERLIN)
        unknown = shown_message("from a newer version", "no.such.key", {}, BERLIN)
        misfit = shown_message("values missing", "dispatch.released", {}, BERLIN)
        ok = shown_message("x", "dispatch.no_plan", {"now_at": NOW.isoformat()}, BERLIN)
    assert (raw.text, raw.translated) == ("raised by hand", False)
    assert (unknown.text, unknown.translated) == ("from a newer version", False)
    assert (misfit.text, misfit.translated) == ("values missing", False)
    assert ok.translated
    assert ok.text.startswith("kein freigegebener Plan gilt am 24.11.2026 07:00:00 +01:00")


def test_job_details_audit_values_and_plan_hold_reasons_read_german(web: Web) -> None:
    run = start_job_run(web.store, web.site.id, "dispatch", "host:1", NOW)
    finish_job_run(
        web.store, run, "skipped", NOW, detail=alarm_text("job.hold_writes", until_at=NOW)
    )
    run = start_job_run(web.store, web.site.id, "derive", "host:1", NOW)
    finish_job_run(web.store, run, "failed", NOW, detail="ValueError: no series")
    hold = alarm_text("release.violations", count=2)
    append_audit(
        web.store,
        AUTO_RELEASE_ACTOR,
        "plan.hold",
        "plan:3",
        {"reason": hold, "max_change_kw": None},
        NOW,
    )
    login(web.client, "operator")
    web.client.cookies.set("kv_lang", "de")
    status = web.client.get("/status").text
    assert "Wiederanlaufsperre bis 24.11.2026 07:00:00 +01:00: noch keine Schreibvorgänge" in status
    assert "restart hold" not in status
    assert '<td lang="en" class="raw">ValueError: no series</td>' in status  # free text: as is
    audit = web.client.get("/audit?q=plan.hold").text
    assert "Grund: Plan verletzt 2 Grenze(n): eine Bedienperson entscheidet" in audit
    web.client.cookies.set("kv_lang", "en")
    audit = web.client.get("/audit?q=plan.hold").text
    assert "reason: plan violates 2 limit(s): an operator decides" in audit
