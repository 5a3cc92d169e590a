"""Store access for the setpoint write log (table setpoint_writes).

Every attempt to write a setpoint is recorded, refused ones included, as a link of a hash chain
(energy.store.chain; the table is append-only like the audit log): what was requested, what it was
clamped and ramped to, what went onto the bus, what was read back, and the outcome. The writer
(connectors.writer) also uses the newest successful write of a point as the reference of its ramp
limit, which is why that lookup lives here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from energy.store.chain import append_chained
from energy.store.engine import Store
from energy.store.schema import setpoint_writes

__all__ = [
    "SUCCESSFUL_OUTCOMES",
    "SetpointWriteRecord",
    "last_successful_write",
    "read_setpoint_writes",
    "record_setpoint_write",
]

SUCCESSFUL_OUTCOMES = ("ok", "clamped")
"""Outcomes after which the device holds the written value (read back and confirmed)."""


@dataclass(frozen=True)
class SetpointWriteRecord:
    """One row of setpoint_writes. Values are in the point's engineering unit."""

    time: dt.datetime
    site_id: str
    asset_id: str
    point: str
    requested: float | None
    clamped: float | None
    written: float | None
    read_back: float | None
    outcome: str
    detail: str
    actor: str
    id: int | None = None


def record_setpoint_write(store: Store, record: SetpointWriteRecord) -> int:
    """Append one write attempt; returns its id."""
    if record.time.tzinfo is None:
        raise ValueError(f"setpoint write of {record.asset_id}.{record.point}: time must be aware")
    values = {
        "time": record.time,
        "site_id": record.site_id,
        "asset_id": record.asset_id,
        "point": record.point,
        "requested": record.requested,
        "clamped": record.clamped,
        "written": record.written,
        "read_back": record.read_back,
        "outcome": record.outcome,
        "detail": record.detail,
        "actor": record.actor,
    }
    with store.engine.begin() as conn:
        return append_chained(conn, setpoint_writes, values)


def _record(row: Any) -> SetpointWriteRecord:
    return SetpointWriteRecord(
        id=row.id,
        time=row.time,
        site_id=row.site_id,
        asset_id=row.asset_id,
        point=row.point,
        requested=row.requested,
        clamped=row.clamped,
        written=row.written,
        read_back=row.read_back,
        outcome=row.outcome,
        detail=row.detail or "",
        actor=row.actor,
    )


def read_setpoint_writes(
    store: Store,
    site_id: str,
    *,
    asset_id: str | None = None,
    point: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 200,
) -> list[SetpointWriteRecord]:
    """Newest first, optionally narrowed to one asset and point."""
    query = select(setpoint_writes).where(setpoint_writes.c.site_id == site_id)
    if asset_id is not None:
        query = query.where(setpoint_writes.c.asset_id == asset_id)
    if point is not None:
        query = query.where(setpoint_writes.c.point == point)
    if since is not None:
        query = query.where(setpoint_writes.c.time >= since)
    query = query.order_by(setpoint_writes.c.time.desc(), setpoint_writes.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]


def last_successful_write(
    store: Store, site_id: str, asset_id: str, point: str
) -> SetpointWriteRecord | None:
    """The newest write of a point that the device confirmed by read-back, if any."""
    query = (
        select(setpoint_writes)
        .where(
            setpoint_writes.c.site_id == site_id,
            setpoint_writes.c.asset_id == asset_id,
            setpoint_writes.c.point == point,
            setpoint_writes.c.outcome.in_(SUCCESSFUL_OUTCOMES),
        )
        .order_by(setpoint_writes.c.time.desc(), setpoint_writes.c.id.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return _record(row) if row is not None else None
