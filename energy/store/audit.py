"""The append-only audit log of operator and system actions.

Rows are only ever inserted, as links of a hash chain (energy.store.chain); the database refuses
UPDATE, DELETE and (PostgreSQL) TRUNCATE on audit_log (migration 0002), and on PostgreSQL the
application role has INSERT and SELECT only (`kv db upgrade --app-role`). `kv audit verify`
names the first row that breaks the chain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Select, String, cast, or_, select

from energy.store.chain import append_chained
from energy.store.engine import Store
from energy.store.schema import audit_log

__all__ = ["AuditEntry", "append_audit", "append_audit_in", "read_audit"]

AuditEntry = dict[str, Any]


def append_audit(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    time: dt.datetime | None = None,
) -> int:
    """Record one action; returns its id. actor is a user name or 'system:<component>'."""
    with store.engine.begin() as conn:
        return append_audit_in(
            conn, time or dt.datetime.now(dt.UTC), actor, action, target, detail or {}
        )


def append_audit_in(
    conn: Connection,
    time: dt.datetime,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any],
) -> int:
    """Record one action inside the caller's transaction, so that it lands with the change it
    describes or not at all; returns its id."""
    return append_chained(
        conn,
        audit_log,
        {"time": time, "actor": actor, "action": action, "target": target, "detail": detail},
    )


def read_audit(
    store: Store,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    text: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEntry]:
    """Newest first. `text` matches actor, action, target or detail, case-insensitively."""
    query: Select[Any] = select(audit_log)
    if since is not None:
        query = query.where(audit_log.c.time >= since)
    if until is not None:
        query = query.where(audit_log.c.time < until)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action == action)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(
                audit_log.c.actor.ilike(pattern),
                audit_log.c.action.ilike(pattern),
                audit_log.c.target.ilike(pattern),
                cast(audit_log.c.detail, String).ilike(pattern),
            )
        )
    query = query.order_by(audit_log.c.time.desc(), audit_log.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.offset(offset))]
