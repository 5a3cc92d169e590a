"""Grid limits set through the API (the grid operator or a marketer): stored, audited, lifted.

A limit holds from valid_from until valid_until unless lifted before. Setting and lifting go into
the audit log's hash chain in the same transaction as the row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import desc, select, update

from energy.grid_limits import GridLimit, LimitKind
from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import audit_log, grid_limits
from energy.store.sql import inserted_id

__all__ = [
    "active_api_limits",
    "add_grid_limit",
    "applied_limits",
    "lift_grid_limit",
    "list_grid_limits",
]

#: the audit action of every change of the limits the control loop applies
APPLIED_ACTION = "grid_limit.in_force"


def add_grid_limit(
    store: Store,
    site_id: str,
    kind: LimitKind,
    limit_kw: float,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
) -> int:
    """Store one limit and audit it; returns its id."""
    if valid_until <= valid_from:
        raise ValueError(
            f"grid limit: valid_until {valid_until.isoformat()} is not after valid_from "
            f"{valid_from.isoformat()}"
        )
    GridLimit(kind, limit_kw, f"api:{actor}", valid_until)  # checks the value
    with store.engine.begin() as conn:
        limit_id = inserted_id(
            conn.execute(
                grid_limits.insert().values(
                    site_id=site_id,
                    kind=kind.value,
                    limit_kw=limit_kw,
                    created_by=actor,
                    created_at=now,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    reason=reason,
                )
            )
        )
        append_audit_in(
            conn,
            now,
            actor,
            "grid_limit.add",
            f"site:{site_id}",
            {
                "limit_id": limit_id,
                "kind": kind.value,
                "limit_kw": limit_kw,
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "reason": reason,
            },
        )
    return int(limit_id)


def lift_grid_limit(
    store: Store, site_id: str, limit_id: int, actor: str, now: dt.datetime
) -> None:
    """End a limit of the site now. KeyError: unknown id; ValueError: no longer in force."""
    with store.engine.begin() as conn:
        row = conn.execute(select(grid_limits).where(grid_limits.c.id == limit_id)).first()
        if row is None or row.site_id != site_id:
            raise KeyError(f"no grid limit with id {limit_id}")
        if row.lifted_at is not None or row.valid_until <= now:
            raise ValueError(f"grid limit {limit_id} is no longer in force")
        conn.execute(
            update(grid_limits)
            .where(grid_limits.c.id == limit_id)
            .values(lifted_at=now, lifted_by=actor)
        )
        append_audit_in(
            conn,
            now,
            actor,
            "grid_limit.lift",
            f"site:{row.site_id}",
            {"limit_id": limit_id, "kind": row.kind},
        )


def _in_force(site_id: str, now: dt.datetime) -> Any:
    return (
        select(grid_limits)
        .where(
            grid_limits.c.site_id == site_id,
            grid_limits.c.lifted_at.is_(None),
            grid_limits.c.valid_from <= now,
            grid_limits.c.valid_until > now,
        )
        .order_by(grid_limits.c.id)
    )


def list_grid_limits(store: Store, site_id: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The API limits in force now, oldest first, as rows."""
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(_in_force(site_id, now))]


def active_api_limits(store: Store, site_id: str, now: dt.datetime) -> list[GridLimit]:
    """The API limits in force now as GridLimits (source api:<actor>#<id>)."""
    return [
        GridLimit(
            LimitKind(row["kind"]),
            float(row["limit_kw"]),
            f"api:{row['created_by']}#{row['id']}",
            row["valid_until"],
        )
        for row in list_grid_limits(store, site_id, now)
    ]


def applied_limits(store: Store, site_id: str) -> tuple[dt.datetime, dict[str, Any]] | None:
    """When the control loop last changed the limits it applies, and what they are since
    (LimitsInForce.as_dict), from the audit log; None: never recorded."""
    query = (
        select(audit_log.c.time, audit_log.c.detail)
        .where(audit_log.c.action == APPLIED_ACTION, audit_log.c.target == f"site:{site_id}")
        .order_by(desc(audit_log.c.id))
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return row.time, dict(row.detail.get("after") or {})
