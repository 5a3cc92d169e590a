"""The text of a notification: German by default, every fact of the incident, local times."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

import energy.notify.message as message_module
from energy.alarm_texts import alarm_text
from energy.notify.message import compose
from energy.notify.policy import Reason
from energy.store.incidents import Incident

TZ = ZoneInfo("Europe/Berlin")
INCIDENT = Incident(
    codes=("stale_input",),
    sources=("house-01.battery", "house-02.battery"),
    severity="critical",
    state="active",
    count=30,
    first_seen=dt.datetime(2026, 12, 6, 3, 14, 9, 123456, tzinfo=dt.UTC),
    last_seen=dt.datetime(2026, 12, 6, 3, 20, tzinfo=dt.UTC),
    message="no fresh reading for 45 s",
    alarm_ids=(4, 5),
    active_alarm_ids=(4, 5),
)


def test_the_german_text_names_cause_devices_severity_times_count_and_link() -> None:
    note = compose(INCIDENT, Reason.NEW, "Klimaviertel", "https://kv.example.de/", TZ)
    assert note.subject == "[Klimaviertel] Kritisch: Messwerte veraltet (2 Gerät(e))"
    assert note.body.splitlines() == [
        "Neuer Vorfall: Klimaviertel",
        "",
        "Ursache: Messwerte veraltet (stale_input)",
        "Meldung: no fresh reading for 45 s",
        "Geräte (2): house-01.battery, house-02.battery",
        "Schweregrad: kritisch",
        "Zuerst gesehen: 06.12.2026 04:14 MEZ",
        "Zuletzt gesehen: 06.12.2026 04:20 MEZ",
        "Anzahl Meldungen: 30",
        "",
        "Quittieren in der Leitwarte: https://kv.example.de/controls",
    ]


def test_english_on_request_and_the_json_carries_the_same_facts() -> None:
    note = compose(INCIDENT, Reason.REPEAT, "Klimaviertel", "https://kv.example.de", TZ, "en")
    assert note.subject == "[Klimaviertel] Critical: measurements stale (2 device(s))"
    assert note.body.startswith("still unacknowledged: Klimaviertel\n")
    assert note.payload["devices"] == ["house-01.battery", "house-02.battery"]
    assert note.payload["count"] == 30
    assert note.payload["reason"] == "repeat"
    assert note.payload["first_seen"] == "2026-12-06T03:14:09.123456+00:00"
    assert note.payload["console_url"] == "https://kv.example.de/controls"


def test_an_unknown_code_is_shown_as_it_is_and_an_unknown_language_refused() -> None:
    other = dataclasses.replace(INCIDENT, codes=("pump_dry",))
    assert "Ursache: pump_dry (pump_dry)" in compose(other, Reason.NEW, "KV", "http://kv", TZ).body
    with pytest.raises(ValueError, match="language"):
        compose(INCIDENT, Reason.NEW, "KV", "http://kv", TZ, "fr")


def test_every_text_of_the_messages_has_its_german_translation() -> None:
    source = Path(message_module.__file__)
    used = {
        msgid
        for _, msgid, _, _ in extract_from_file(
            "python", str(source), keywords={"_": None, "N_": None}
        )
    }
    with (source.parent / "locales" / "de" / "LC_MESSAGES" / "notify.po").open("rb") as handle:
        catalog = read_po(handle, locale="de")
    translated = {m.id for m in catalog if m.id and m.string}
    assert len(used) > 20
    assert used - translated == set()


def test_a_message_with_a_key_is_sent_in_the_readers_language_with_local_time() -> None:
    text = alarm_text("dispatch.no_plan", now_at=dt.datetime(2026, 12, 6, 3, 20, tzinfo=dt.UTC))
    keyed = dataclasses.replace(
        INCIDENT, message=str(text), message_key=text.key, message_values=text.stored_values()
    )
    german = compose(keyed, Reason.NEW, "KV", "http://kv", TZ).body
    assert (
        "Meldung: kein freigegebener Plan gilt am 06.12.2026 04:20:00 +01:00: Geräte an die "
        "lokale Regelung übergeben"
    ) in german
    english = compose(keyed, Reason.NEW, "KV", "http://kv", TZ, "en")
    assert "Message: no approved plan covers 06.12.2026 04:20:00 +01:00" in english.body
    assert english.payload["message"] == str(text)  # machines get the stored text, UTC
