"""Alarm texts (energy.alarm_texts): the English message as the control loop always wrote it,
with its key and JSON values kept for the console to translate."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

import energy.alarm_texts as alarm_texts
from energy.alarm_texts import (
    PARSABLE_KEYS,
    TEMPLATES,
    AlarmText,
    alarm_text,
    parse,
    translate,
    translate_text,
)

NOW = dt.datetime(2026, 12, 6, 5, 30, tzinfo=dt.UTC)
BERLIN = ZoneInfo("Europe/Berlin")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_the_english_text_is_the_message_with_utc_times() -> None:
    reason = alarm_text(
        "stale.old",
        asset="house-01.battery",
        quantity="soc_frac",
        age_s=42,
        now_at=NOW,
        limit_s=30.0,
    )
    text = alarm_text("dispatch.released", reason=reason)
    assert isinstance(text, str)
    assert text == (
        "house-01.battery: newest soc_frac is 42 s old at 2026-12-06T05:30:00+00:00 "
        "(limit 30 s): not controlled, released to local mode"
    )
    assert text.key == "dispatch.released"
    stored = json.loads(json.dumps(text.stored_values()))
    assert stored["reason"]["key"] == "stale.old"
    assert stored["reason"]["values"]["now_at"] == "2026-12-06T05:30:00+00:00"


def test_a_time_must_be_named_as_one_and_a_key_must_exist() -> None:
    with pytest.raises(ValueError, match="_at"):
        alarm_text("dispatch.no_plan", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        alarm_text("no.such.text")
    with pytest.raises(KeyError):
        alarm_text("dispatch.no_plan")  # its value is missing


@given(
    asset=st.text(max_size=40),
    problem=st.text(max_size=200),
)
def test_any_values_make_a_text_that_stores_as_json(asset: str, problem: str) -> None:
    text = alarm_text("dispatch.write_failed", asset=asset, problem=problem)
    assert text == f"{asset}: {problem}"
    assert json.loads(json.dumps(text.stored_values())) == {"asset": asset, "problem": problem}
    assert AlarmText(text.key, text.values) == text


def test_every_alarm_text_has_its_german_translation_with_the_same_placeholders() -> None:
    source = Path(alarm_texts.__file__)
    used = {
        msgid for _, msgid, _, _ in extract_from_file("python", str(source), keywords={"N_": None})
    }
    assert used == set(TEMPLATES.values())
    with (source.parent / "locales" / "de" / "LC_MESSAGES" / "alarms.po").open("rb") as handle:
        catalogue = {m.id: m.string for m in read_po(handle, locale="de") if m.id}
    assert set(catalogue) == used  # nothing missing, nothing stale
    for template in used:
        assert catalogue[template]
        assert sorted(PLACEHOLDER.findall(template)) == sorted(
            PLACEHOLDER.findall(catalogue[template])
        ), template


def test_a_stored_text_reads_in_german_and_english_with_local_times() -> None:
    text = alarm_text(
        "weather.stored",
        feed="open-meteo",
        failure="HTTP 503",
        source="open-meteo",
        issued_at=NOW,
        age_h=2.5,
    )
    stored = json.loads(json.dumps(text.stored_values()))
    assert translate(text.key, stored, "de", BERLIN) == (
        "Wetterdienst open-meteo fehlgeschlagen (HTTP 503); geplant wird mit der Vorhersage von "
        "open-meteo vom 06.12.2026 06:30:00 +01:00 (2,5 h alt)"
    )
    assert translate(text.key, stored, "en", BERLIN) == (
        "weather feed open-meteo failed (HTTP 503); planning on the open-meteo forecast issued "
        "06.12.2026 06:30:00 +01:00 (2.5 h old)"
    )
    assert translate("no.such.key", {}, "de", BERLIN) is None
    assert translate(text.key, {}, "de", BERLIN) is None  # values missing: shown as stored


@given(
    holder=st.builds(
        "{}:{}".format, st.text(max_size=30), st.integers(min_value=1, max_value=99_999)
    ),
    version=st.integers(min_value=1, max_value=10_000),
    seconds=st.floats(min_value=0.01, max_value=1e4).map(lambda s: round(s, 2)),
)
def test_a_stored_job_detail_reads_back_into_its_key_and_values(
    holder: str, version: int, seconds: float
) -> None:
    skipped = alarm_text("job.standby_holder", holder=holder)  # a host name and process id
    assert parse(str(skipped)) == ("job.standby_holder", {"holder": holder})
    assert translate_text(str(skipped), "en", BERLIN) == skipped
    reason = alarm_text("release.first_manual")
    planned = alarm_text(
        "job.planned",
        version=version,
        status="optimal",
        state="proposed",
        seconds=seconds,
        reason=reason,
    )
    key, values = parse(str(planned)) or ("", {})
    assert key == "job.planned"
    assert values["version"] == version
    assert values["reason"] == {"key": "release.first_manual", "values": {}}


def test_only_job_and_release_texts_are_read_back_and_free_texts_are_not() -> None:
    assert all(key.startswith(("job.", "release.")) for key in PARSABLE_KEYS)
    assert "job.failed" not in PARSABLE_KEYS  # "job x failed: <anything>" stays as stored
    assert parse("ValueError: something broke") is None
    assert translate_text("house-01.battery: timeout", "de", BERLIN) is None


def test_job_details_and_release_reasons_read_in_german_with_local_times() -> None:
    hold = alarm_text("job.hold_writes", until_at=NOW)
    assert translate_text(str(hold), "de", BERLIN) == (
        "Wiederanlaufsperre bis 06.12.2026 06:30:00 +01:00: noch keine Schreibvorgänge"
    )
    change = alarm_text("release.change_too_large", change_kw=12.5, where_at=NOW, max_change_kw=5.0)
    assert translate_text(str(change), "de", BERLIN) == (
        "Netzaustausch ändert sich gegenüber dem laufenden Plan um bis zu 12,5 kW (um "
        "06.12.2026 06:30:00 +01:00), mehr als max_change_kw 5: eine Bedienperson entscheidet"
    )
    planned = alarm_text(
        "job.planned",
        version=7,
        status="optimal",
        state="approved",
        seconds=2.5,
        reason=alarm_text("release.change_within", change_kw=0.4, slots=8, max_change_kw=5.0),
    )
    assert translate_text(str(planned), "de", BERLIN) == (
        "Plan v7 optimal, approved in 2,5 s: Netzaustausch in den nächsten 8 Zeitschritten "
        "höchstens 0,4 kW vom laufenden Plan entfernt (max_change_kw 5)"
    )


def test_the_common_skipped_plan_and_retrain_details_read_in_german() -> None:
    made = alarm_text("job.plan_made", version=12)
    assert translate_text(str(made), "de", BERLIN) == (
        "Plan v12 in diesem Zeitraum bereits erstellt"
    )
    weak = alarm_text(
        "job.retrain_coverage",
        series="house-01.pv:power_kw",
        coverage="37%",
        days=28,
        needed="80%",
    )
    assert translate_text(str(weak), "de", BERLIN) == (
        "house-01.pv:power_kw ist in 37% der Zeitschritte der letzten 28 Tage gemessen "
        "(Neutraining braucht 80%); die Profil-Startprognose bleibt"
    )
