"""The SQL store: SQLite by default, PostgreSQL in production (see engine.py for URL resolution)."""

from energy.store.engine import Store, StoreError, database_url_for

__all__ = ["Store", "StoreError", "database_url_for"]
