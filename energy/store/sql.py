"""Dialect-aware statement helpers shared by the store modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["dbapi_connection", "insert_ignoring_duplicates", "inserted_id"]


def insert_ignoring_duplicates(table: Table, dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL: what is stored stays."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT created."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def dbapi_connection(conn: Connection) -> Any:
    """The driver's own connection under a SQLAlchemy connection (sqlite3 or psycopg), for bulk
    paths that SQLAlchemy does not cover (executemany with plain tuples, COPY)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no driver connection (it was closed)")
    return raw
