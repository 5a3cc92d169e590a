from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from energy.store import Store, StoreError
from energy.store.schema import metadata


def test_migrations_create_exactly_the_tables_in_code(store: Store) -> None:
    """Every table or column added to schema.py must come with a migration (and vice versa)."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert store.current_revision() == store.head_revision()


def test_upgrade_is_idempotent_and_keeps_rows(store: Store) -> None:
    from energy.store.audit import append_audit, read_audit

    append_audit(store, "olga", "test.action", detail={"n": 1}, time=dt.datetime.now(dt.UTC))
    store.upgrade()
    assert [e["action"] for e in read_audit(store)] == ["test.action"]


def test_audit_log_refuses_update_and_delete(store: Store) -> None:
    from energy.store.audit import append_audit

    append_audit(store, "olga", "test.action")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))


def test_unmigrated_store_is_reported(tmp_path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'new.sqlite'}")
    with pytest.raises(StoreError, match="kv db upgrade"):
        store.require_current()


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(StoreError, match="expected sqlite"):
        Store.from_url("mysql://u@h/db")
