"""Database roles on PostgreSQL: the owner migrates, the application role only uses.

`kv db upgrade --app-role kv_app` (run as the owner: the role that creates and migrates the
tables) creates the application role when it does not exist and grants it what the platform
needs: SELECT, INSERT, UPDATE and DELETE on the working tables, but only SELECT and INSERT on
the append-only records (audit_log, setpoint_writes). Not being their owner, the application
role can neither TRUNCATE them nor drop or disable their triggers, nor change the schema.
`kv run` then connects as the application role (KV_DATABASE_URL=postgresql://kv_app@host/db).
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import text

from energy.store.engine import Store, StoreError

__all__ = ["APPEND_ONLY_TABLES", "ensure_app_role"]

log = logging.getLogger(__name__)

APPEND_ONLY_TABLES = ("audit_log", "setpoint_writes")
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def ensure_app_role(store: Store, role: str, password: str | None = None) -> list[str]:
    """Create (if missing) and grant the application role; returns the statements run.

    Idempotent. PostgreSQL only; the tables are those of the current schema.
    """
    if store.dialect != "postgresql":
        raise StoreError(f"application roles need PostgreSQL; the store is {store.dialect}")
    if not _ROLE_NAME.fullmatch(role):
        raise StoreError(
            f"application role {role!r}: expected a lower-case SQL identifier "
            "(letters, digits, underscores)"
        )
    with store.engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        owner = conn.execute(text("SELECT current_user")).scalar_one()
        if role == owner:
            raise StoreError(f"application role {role!r} is the owner that migrates: use another")
        tables = [
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            )
        ]
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        statements = []
        if exists is None:
            statements.append(f'CREATE ROLE "{role}" LOGIN')
        if password is not None:
            statements.append(
                f"ALTER ROLE \"{role}\" PASSWORD '{password.replace(chr(39), chr(39) * 2)}'"
            )
        statements.append(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        for table in sorted(tables):
            statements.append(f'REVOKE ALL ON "{schema}"."{table}" FROM "{role}"')
            if table in APPEND_ONLY_TABLES:
                rights = "SELECT, INSERT"
            elif table == "alembic_version":
                rights = "SELECT"
            else:
                rights = "SELECT, INSERT, UPDATE, DELETE"
            statements.append(f'GRANT {rights} ON "{schema}"."{table}" TO "{role}"')
        statements.append(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"')
        for statement in statements:
            conn.execute(text(statement))
    log.info("application role %s granted on schema %s (owner %s)", role, schema, owner)
    return [s if "PASSWORD" not in s else f'ALTER ROLE "{role}" PASSWORD ***' for s in statements]
