"""When an incident is notified: pure functions of the incident, what was sent last and the time.

An incident is due when it is
- new: nothing was sent for its cause, or what was sent concerned other alarms (an earlier
  incident of the same cause that has since been cleared);
- escalated: its severity rose above the one last sent;
- a repeat: it is still unacknowledged `repeat_after` after the last notification.
An acknowledged incident is never due. An incident below the configured minimum severity is never
due. Quiet hours hold a due incident back until they end (it is then sent, if still due), except a
critical one when `critical_overrides` is set.

A user's own quiet hours leave them out of an incident's e-mail while other channels or users
get it; when their quiet hours end and the incident is still unacknowledged (and may be sent at
all), it is sent to them alone (`held_by_quiet_hours`, reason `quiet_end`), not only at its next
repeat.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo

from energy.notification_config import NotificationsConfig, QuietHours
from energy.store.alarms import AlarmState, Severity
from energy.store.incidents import Incident
from energy.store.notifications import QUIET_END, SentNotification

__all__ = [
    "Reason",
    "due_reason",
    "held_by_quiet_hours",
    "in_quiet_hours",
    "in_window",
    "incident_key",
    "may_send",
    "severity_rank",
]

_RANK = {Severity.INFO.value: 0, Severity.WARNING.value: 1, Severity.CRITICAL.value: 2}


class Reason(StrEnum):
    NEW = "new"
    ESCALATED = "escalated"
    REPEAT = "repeat"
    QUIET_END = QUIET_END


def severity_rank(severity: str) -> int:
    return _RANK.get(severity, 0)


def incident_key(incident: Incident) -> str:
    """An incident's cause as stored with what was sent: its alarm codes."""
    return ",".join(incident.codes)[:255]


def in_window(local: dt.time, start: dt.time, end: dt.time) -> bool:
    """Whether a local wall time lies in the window [start, end), which may run over midnight."""
    if start < end:
        return start <= local < end
    return local >= start or local < end


def in_quiet_hours(local: dt.time, quiet: QuietHours) -> bool:
    """Whether a local wall time lies in the site's quiet hours."""
    return in_window(local, quiet.start, quiet.end)


def _reason(
    incident: Incident, last: SentNotification | None, now: dt.datetime, repeat: dt.timedelta
) -> Reason | None:
    if last is None or not last.alarm_ids & set(incident.alarm_ids):
        return Reason.NEW
    if severity_rank(incident.severity) > severity_rank(last.severity):
        return Reason.ESCALATED
    if now - last.sent_at >= repeat:
        return Reason.REPEAT
    return None


def due_reason(
    incident: Incident,
    last: SentNotification | None,
    now: dt.datetime,
    config: NotificationsConfig,
    tz: ZoneInfo,
) -> Reason | None:
    """Why the incident is to be sent now, or None (see the module docstring)."""
    if not may_send(incident, now, config, tz):
        return None
    return _reason(incident, last, now, config.repeat_after)


def may_send(
    incident: Incident, now: dt.datetime, config: NotificationsConfig, tz: ZoneInfo
) -> bool:
    """Whether anything may be sent of the incident now: unacknowledged, severe enough, and
    outside the site's quiet hours (unless critical and `critical_overrides`)."""
    if incident.state != AlarmState.ACTIVE.value:
        return False
    if severity_rank(incident.severity) < severity_rank(config.min_severity):
        return False
    quiet = config.quiet_hours
    if quiet is None:
        return True
    overridden = quiet.critical_overrides and incident.severity == Severity.CRITICAL.value
    return overridden or not in_quiet_hours(now.astimezone(tz).time(), quiet)


def held_by_quiet_hours(
    quiet_hours: tuple[dt.time, dt.time] | None,
    last: SentNotification | None,
    now: dt.datetime,
    tz: ZoneInfo,
) -> bool:
    """Whether a user's quiet hours kept the last notification of an incident from them and
    have ended since."""
    if quiet_hours is None or last is None:
        return False
    held = in_window(last.sent_at.astimezone(tz).time(), *quiet_hours)
    return held and not in_window(now.astimezone(tz).time(), *quiet_hours)
