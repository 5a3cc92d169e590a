"""Alarms: raised by jobs and the dispatch loop, acknowledged by operators, cleared by the system.

One open alarm per (site, code, source): raising it again refreshes last_seen_at and the message
and counts the report in `occurrences` instead of piling up duplicates. A condition that comes back
within REOPEN_WITHIN of being cleared (a flapping device, a job failing every other run) reopens
its alarm, so that one cause stays one row with its first and last sighting and its count.
How open alarms group into incidents for operators is energy.store.incidents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select, update

from energy.alarm_texts import AlarmText
from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import alarms
from energy.store.sql import inserted_id

__all__ = [
    "AlarmState",
    "Severity",
    "acknowledge_alarm",
    "acknowledge_alarms",
    "clear_alarm",
    "list_alarms",
    "raise_alarm",
]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


_OPEN = (AlarmState.ACTIVE.value, AlarmState.ACKNOWLEDGED.value)

REOPEN_WITHIN = dt.timedelta(hours=1)
"""An alarm cleared less than this long ago is reopened when its condition returns."""


def _text_columns(message: str) -> dict[str, Any]:
    if isinstance(message, AlarmText):
        return {"message_key": message.key, "message_values": message.stored_values()}
    return {"message_key": None, "message_values": None}


def raise_alarm(
    store: Store,
    site_id: str,
    code: str,
    source: str,
    severity: Severity,
    message: str,
    now: dt.datetime,
) -> int:
    """Open an alarm, or count another report of the open (or recently cleared) one with the same
    code and source; returns its id. A message made with energy.alarm_texts keeps its key and
    values beside the English text, so that the console can show it translated."""
    text = _text_columns(message)
    same = (alarms.c.site_id == site_id, alarms.c.code == code, alarms.c.source == source)
    with store.engine.begin() as conn:
        existing = conn.execute(
            select(alarms.c.id).where(*same, alarms.c.state.in_(_OPEN))
        ).scalar()
        if existing is not None:
            conn.execute(
                update(alarms)
                .where(alarms.c.id == existing)
                .values(
                    last_seen_at=now,
                    message=message,
                    **text,
                    severity=severity.value,
                    occurrences=alarms.c.occurrences + 1,
                )
            )
            return int(existing)
        recent = conn.execute(
            select(alarms.c.id)
            .where(
                *same,
                alarms.c.state == AlarmState.CLEARED.value,
                alarms.c.cleared_at >= now - REOPEN_WITHIN,
            )
            .order_by(alarms.c.cleared_at.desc(), alarms.c.id.desc())
            .limit(1)
        ).scalar()
        if recent is not None:
            conn.execute(
                update(alarms)
                .where(alarms.c.id == recent)
                .values(
                    state=AlarmState.ACTIVE.value,
                    last_seen_at=now,
                    message=message,
                    **text,
                    severity=severity.value,
                    occurrences=alarms.c.occurrences + 1,
                    acknowledged_by=None,
                    acknowledged_at=None,
                    cleared_at=None,
                )
            )
            _audit_raise(conn, "alarm.reopen", int(recent), code, source, severity, message, now)
            return int(recent)
        alarm_id = inserted_id(
            conn.execute(
                alarms.insert().values(
                    site_id=site_id,
                    code=code,
                    source=source,
                    severity=severity.value,
                    message=message,
                    **text,
                    raised_at=now,
                    last_seen_at=now,
                    state=AlarmState.ACTIVE.value,
                    occurrences=1,
                )
            )
        )
        _audit_raise(conn, "alarm.raise", int(alarm_id), code, source, severity, message, now)
        return int(alarm_id)


def _audit_raise(
    conn: Connection,
    action: str,
    alarm_id: int,
    code: str,
    source: str,
    severity: Severity,
    message: str,
    now: dt.datetime,
) -> None:
    append_audit_in(
        conn,
        now,
        "system:alarms",
        action,
        f"alarm:{alarm_id}",
        {"code": code, "source": source, "severity": severity.value, "message": message},
    )


def acknowledge_alarm(store: Store, alarm_id: int, actor: str, now: dt.datetime) -> None:
    with store.engine.begin() as conn:
        if not _acknowledge(conn, alarm_id, actor, now):
            state = conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar()
            if state is None:
                raise KeyError(f"no alarm with id {alarm_id}")
            raise ValueError(
                f"alarm {alarm_id} is {state}; only an active alarm can be acknowledged"
            )


def acknowledge_alarms(
    store: Store, site_id: str, alarm_ids: Iterable[int], actor: str, now: dt.datetime
) -> list[int]:
    """Acknowledge the active alarms among alarm_ids (an incident's alarms) in one transaction;
    ids of other sites, unknown ids and alarms no longer active are left alone. Returns the ids
    acknowledged."""
    with store.engine.begin() as conn:
        ids = (
            conn.execute(
                select(alarms.c.id)
                .where(
                    alarms.c.site_id == site_id,
                    alarms.c.id.in_(sorted(set(alarm_ids))),
                    alarms.c.state == AlarmState.ACTIVE.value,
                )
                .order_by(alarms.c.id)
            )
            .scalars()
            .all()
        )
        return [int(alarm_id) for alarm_id in ids if _acknowledge(conn, alarm_id, actor, now)]


def _acknowledge(conn: Connection, alarm_id: int, actor: str, now: dt.datetime) -> bool:
    """Acknowledge one alarm if it is active, audited in the same transaction."""
    result = conn.execute(
        update(alarms)
        .where(alarms.c.id == alarm_id, alarms.c.state == AlarmState.ACTIVE.value)
        .values(state=AlarmState.ACKNOWLEDGED.value, acknowledged_by=actor, acknowledged_at=now)
    )
    if result.rowcount != 1:
        return False
    append_audit_in(conn, now, actor, "alarm.acknowledge", f"alarm:{alarm_id}", {})
    return True


def clear_alarm(store: Store, site_id: str, code: str, source: str, now: dt.datetime) -> bool:
    """Close the open alarm with this code and source, if any (its condition has gone)."""
    with store.engine.begin() as conn:
        ids = (
            conn.execute(
                select(alarms.c.id).where(
                    alarms.c.site_id == site_id,
                    alarms.c.code == code,
                    alarms.c.source == source,
                    alarms.c.state.in_(_OPEN),
                )
            )
            .scalars()
            .all()
        )
        for alarm_id in ids:
            conn.execute(
                update(alarms)
                .where(alarms.c.id == alarm_id)
                .values(state=AlarmState.CLEARED.value, cleared_at=now)
            )
            append_audit_in(
                conn,
                now,
                "system:alarms",
                "alarm.clear",
                f"alarm:{alarm_id}",
                {"code": code, "source": source},
            )
    return bool(ids)


def list_alarms(
    store: Store, site_id: str, open_only: bool = True, limit: int = 200
) -> list[dict[str, Any]]:
    query = select(alarms).where(alarms.c.site_id == site_id)
    if open_only:
        query = query.where(alarms.c.state.in_(_OPEN))
    query = query.order_by(alarms.c.raised_at.desc(), alarms.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
