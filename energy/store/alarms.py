"""Alarms: raised by jobs and the dispatch loop, acknowledged by operators, cleared by the system.

One open alarm per (site, code, source): raising it again refreshes last_seen_at and the message
instead of piling up duplicates.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from energy.store.chain import append_chained
from energy.store.engine import Store
from energy.store.schema import alarms, audit_log
from energy.store.sql import inserted_id

__all__ = [
    "AlarmState",
    "Severity",
    "acknowledge_alarm",
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


def raise_alarm(
    store: Store,
    site_id: str,
    code: str,
    source: str,
    severity: Severity,
    message: str,
    now: dt.datetime,
) -> int:
    """Open an alarm (or refresh the open one with the same code and source); returns its id."""
    with store.engine.begin() as conn:
        existing = conn.execute(
            select(alarms.c.id).where(
                alarms.c.site_id == site_id,
                alarms.c.code == code,
                alarms.c.source == source,
                alarms.c.state.in_(_OPEN),
            )
        ).scalar()
        if existing is not None:
            conn.execute(
                update(alarms)
                .where(alarms.c.id == existing)
                .values(last_seen_at=now, message=message, severity=severity.value)
            )
            return int(existing)
        alarm_id = inserted_id(
            conn.execute(
                alarms.insert().values(
                    site_id=site_id,
                    code=code,
                    source=source,
                    severity=severity.value,
                    message=message,
                    raised_at=now,
                    last_seen_at=now,
                    state=AlarmState.ACTIVE.value,
                )
            )
        )
        append_chained(
            conn,
            audit_log,
            dict(
                time=now,
                actor="system:alarms",
                action="alarm.raise",
                target=f"alarm:{alarm_id}",
                detail={
                    "code": code,
                    "source": source,
                    "severity": severity.value,
                    "message": message,
                },
            ),
        )
        return int(alarm_id)


def acknowledge_alarm(store: Store, alarm_id: int, actor: str, now: dt.datetime) -> None:
    with store.engine.begin() as conn:
        result = conn.execute(
            update(alarms)
            .where(alarms.c.id == alarm_id, alarms.c.state == AlarmState.ACTIVE.value)
            .values(state=AlarmState.ACKNOWLEDGED.value, acknowledged_by=actor, acknowledged_at=now)
        )
        if result.rowcount != 1:
            state = conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar()
            if state is None:
                raise KeyError(f"no alarm with id {alarm_id}")
            raise ValueError(
                f"alarm {alarm_id} is {state}; only an active alarm can be acknowledged"
            )
        append_chained(
            conn,
            audit_log,
            dict(
                time=now,
                actor=actor,
                action="alarm.acknowledge",
                target=f"alarm:{alarm_id}",
                detail={},
            ),
        )


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
            append_chained(
                conn,
                audit_log,
                dict(
                    time=now,
                    actor="system:alarms",
                    action="alarm.clear",
                    target=f"alarm:{alarm_id}",
                    detail={"code": code, "source": source},
                ),
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
