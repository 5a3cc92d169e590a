"""When an incident is notified: quiet hours and the repeat/escalation interval (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from energy.notification_config import NotificationsConfig, QuietHours
from energy.notify.policy import Reason, due_reason, held_by_quiet_hours, in_quiet_hours
from energy.store.incidents import Incident
from energy.store.notifications import SentNotification

TZ = ZoneInfo("Europe/Berlin")
T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)  # 11:00 in Herne
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


def _incident(
    severity: str = "critical", state: str = "active", alarm_ids: tuple[int, ...] = (1, 2)
) -> Incident:
    return Incident(
        codes=("stale_input",),
        sources=("house-01.battery", "house-02.battery"),
        severity=severity,
        state=state,
        count=3,
        first_seen=T0 - dt.timedelta(minutes=5),
        last_seen=T0,
        message="no fresh reading",
        alarm_ids=alarm_ids,
        active_alarm_ids=alarm_ids if state == "active" else (),
    )


def _sent(at: dt.datetime, severity: str = "critical", ids: frozenset[int] = frozenset({1})):
    return SentNotification("stale_input", ids, severity, "new", at, ("email",))


def _config(**changes: object) -> NotificationsConfig:
    base: dict[str, object] = {
        "console_url": "https://leitstand.example.de",
        "webhooks": [{"url": "https://chat.example.de/hook"}],
        "repeat_after_min": 60,
        "min_severity": "warning",
    }
    return NotificationsConfig.model_validate(base | changes)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


@given(start=times, end=times, at=times)
def test_quiet_hours_are_the_minutes_from_start_up_to_end(
    start: dt.time, end: dt.time, at: dt.time
) -> None:
    if start == end:
        return
    quiet = QuietHours(start=start, end=end)
    length = (_minutes(end) - _minutes(start)) % 1440
    assert in_quiet_hours(at, quiet) == ((_minutes(at) - _minutes(start)) % 1440 < length)


@given(start=times, end=times, at=times)
def test_swapping_start_and_end_gives_the_complement(
    start: dt.time, end: dt.time, at: dt.time
) -> None:
    if start == end:
        return
    assert in_quiet_hours(at, QuietHours(start=start, end=end)) != in_quiet_hours(
        at, QuietHours(start=end, end=start)
    )


def test_a_window_over_midnight() -> None:
    quiet = QuietHours(start=dt.time(22), end=dt.time(6, 30))
    assert in_quiet_hours(dt.time(23, 59), quiet)
    assert in_quiet_hours(dt.time(0, 0), quiet)
    assert not in_quiet_hours(dt.time(6, 30), quiet)
    assert not in_quiet_hours(dt.time(12), quiet)


def test_a_new_incident_is_due_and_then_not_until_the_interval_has_passed() -> None:
    config = _config()
    assert due_reason(_incident(), None, T0, config, TZ) == Reason.NEW
    assert due_reason(_incident(), _sent(T0), T0 + dt.timedelta(minutes=59), config, TZ) is None
    assert (
        due_reason(_incident(), _sent(T0), T0 + dt.timedelta(minutes=60), config, TZ)
        == Reason.REPEAT
    )


@given(minutes=st.integers(min_value=0, max_value=3 * 24 * 60), repeat=st.integers(1, 24 * 60))
def test_a_repeat_is_due_exactly_from_the_interval_on(minutes: int, repeat: int) -> None:
    now = T0 + dt.timedelta(minutes=minutes)
    reason = due_reason(_incident(), _sent(T0), now, _config(repeat_after_min=repeat), TZ)
    assert reason == (Reason.REPEAT if minutes >= repeat else None)


def test_a_rise_in_severity_is_sent_at_once() -> None:
    last = _sent(T0, severity="warning")
    assert due_reason(_incident(), last, T0 + dt.timedelta(minutes=1), _config(), TZ) == (
        Reason.ESCALATED
    )


def test_an_incident_of_other_alarms_is_new() -> None:
    last = _sent(T0, ids=frozenset({7}))
    assert due_reason(_incident(), last, T0 + dt.timedelta(minutes=1), _config(), TZ) == Reason.NEW


def test_acknowledged_and_too_mild_incidents_are_never_due() -> None:
    assert due_reason(_incident(state="acknowledged"), None, T0, _config(), TZ) is None
    mild = _incident(severity="warning")
    assert due_reason(mild, None, T0, _config(min_severity="critical"), TZ) is None


def test_quiet_hours_hold_back_unless_critical_overrides() -> None:
    quiet = {"start": "10:30", "end": "12:00"}  # 11:00 local is inside
    held = _config(quiet_hours=quiet)
    assert due_reason(_incident(), None, T0, held, TZ) is None
    assert due_reason(_incident(), None, T0 + dt.timedelta(hours=1), held, TZ) == Reason.NEW
    overriding = _config(quiet_hours=quiet | {"critical_overrides": True})
    assert due_reason(_incident(), None, T0, overriding, TZ) == Reason.NEW
    assert due_reason(_incident(severity="warning"), None, T0, overriding, TZ) is None


def test_a_users_quiet_hours_held_the_last_notification_until_they_end() -> None:
    quiet = (dt.time(22, 0), dt.time(11, 30))  # over midnight; T0 is 11:00 local
    last = _sent(T0)
    assert not held_by_quiet_hours(quiet, last, T0 + dt.timedelta(minutes=29), TZ)
    assert held_by_quiet_hours(quiet, last, T0 + dt.timedelta(minutes=30), TZ)
    assert not held_by_quiet_hours(quiet, _sent(T0 + dt.timedelta(hours=1)), T0, TZ)
    assert not held_by_quiet_hours(None, last, T0 + dt.timedelta(hours=1), TZ)
    assert not held_by_quiet_hours(quiet, None, T0 + dt.timedelta(hours=1), TZ)
