"""Dialect-aware statement helpers shared by the store modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignoring_duplicates"]


def insert_ignoring_duplicates(table: Table, dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL: what is stored stays."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
