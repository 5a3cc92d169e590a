"""Incidents: the open alarms an operator has to deal with, one row per cause instead of one per
alarm.

Alarms are kept per (code, source) so that each clears on its own (energy.store.alarms); an
operator, though, sees one incident per cause:

- the open alarms of one source (an asset, a job) form one incident: a battery that stops
  answering raises `stale_input` and `write_failed`, one fault;
- sources whose open alarms have the same codes form one incident across the district: thirty
  devices going stale together (a network switch, the store) are one cause, not thirty.

An incident carries the number of reports of its alarms, its first and last sighting, its worst
severity, and is active while any of its alarms is unacknowledged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from energy.store.alarms import AlarmState, Severity, list_alarms
from energy.store.engine import Store

__all__ = ["Incident", "group_incidents", "open_incidents"]

_SEVERITY_RANK = {Severity.INFO.value: 0, Severity.WARNING.value: 1, Severity.CRITICAL.value: 2}


@dataclass(frozen=True)
class Incident:
    codes: tuple[str, ...]
    sources: tuple[str, ...]
    severity: str
    state: str
    """active while any of its alarms is active, else acknowledged"""
    count: int
    """reports of its alarms (each raise of an open alarm counts one)"""
    first_seen: dt.datetime
    last_seen: dt.datetime
    message: str
    """the message of its most recently seen alarm"""
    alarm_ids: tuple[int, ...]
    active_alarm_ids: tuple[int, ...]
    message_key: str | None = None
    """the key and values of `message` when it was made with energy.alarm_texts"""
    message_values: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "codes": list(self.codes),
            "sources": list(self.sources),
            "severity": self.severity,
            "state": self.state,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "message": self.message,
            "alarm_ids": list(self.alarm_ids),
            "active_alarm_ids": list(self.active_alarm_ids),
            "message_key": self.message_key,
            "message_values": self.message_values,
        }


def _incident(members: list[Mapping[str, Any]]) -> Incident:
    newest = max(members, key=lambda a: (a["last_seen_at"], a["id"]))
    active = sorted(int(a["id"]) for a in members if a["state"] == AlarmState.ACTIVE.value)
    return Incident(
        codes=tuple(sorted({str(a["code"]) for a in members})),
        sources=tuple(sorted({str(a["source"]) for a in members})),
        severity=max((str(a["severity"]) for a in members), key=lambda s: _SEVERITY_RANK.get(s, 0)),
        state=AlarmState.ACTIVE.value if active else AlarmState.ACKNOWLEDGED.value,
        count=sum(int(a.get("occurrences") or 1) for a in members),
        first_seen=min(a["raised_at"] for a in members),
        last_seen=newest["last_seen_at"],
        message=str(newest["message"]),
        alarm_ids=tuple(sorted(int(a["id"]) for a in members)),
        active_alarm_ids=tuple(active),
        message_key=newest.get("message_key"),
        message_values=newest.get("message_values"),
    )


def group_incidents(alarms: Iterable[Mapping[str, Any]]) -> list[Incident]:
    """Group open alarms (rows of list_alarms) into incidents (see the module docstring), the
    most recently seen first."""
    by_source: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for alarm in alarms:
        if alarm["state"] != AlarmState.CLEARED.value:
            by_source[str(alarm["source"])].append(alarm)
    by_cause: dict[frozenset[str], list[Mapping[str, Any]]] = defaultdict(list)
    for members in by_source.values():
        by_cause[frozenset(str(a["code"]) for a in members)].extend(members)
    incidents = [_incident(members) for members in by_cause.values()]
    return sorted(incidents, key=lambda i: (i.last_seen, i.alarm_ids), reverse=True)


def open_incidents(store: Store, site_id: str) -> list[Incident]:
    """The open incidents of a site."""
    return group_incidents(list_alarms(store, site_id, open_only=True, limit=10_000))
