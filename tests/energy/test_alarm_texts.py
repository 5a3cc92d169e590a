"""Alarm texts (energy.alarm_texts): the English message as the control loop always wrote it,
with its key and JSON values kept for the console to translate."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy.alarm_texts import AlarmText, alarm_text

NOW = dt.datetime(2026, 12, 6, 5, 30, tzinfo=dt.UTC)


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
