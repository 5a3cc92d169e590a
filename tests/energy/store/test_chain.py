"""Hash chains over audit_log and setpoint_writes: verification names the first broken row.

Tampering is done as the database owner, who can lift the protection the application role has
no right to lift (triggers dropped on SQLite, disabled on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from energy.cli.main import app
from energy.store import Store
from energy.store.audit import append_audit
from energy.store.chain import verify_chain
from energy.store.roles import ensure_app_role
from energy.store.setpoints import SetpointWriteRecord, record_setpoint_write

T0 = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
_SQLITE_TRIGGERS = [
    f"{table}_no_{verb}"
    for table in ("audit_log", "setpoint_writes")
    for verb in ("update", "delete", "replace")
]


def _tamper(store: Store, table: str, statement: str) -> None:
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text(statement))
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            for trigger in _SQLITE_TRIGGERS:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
            conn.execute(text(statement))


def _audit_rows(store: Store, n: int = 4) -> None:
    for i in range(n):
        append_audit(
            store, "olga", f"test.{i}", "x", {"i": i, "f": 0.1 * i}, T0 + dt.timedelta(minutes=i)
        )


def test_an_intact_chain_verifies(store: Store) -> None:
    _audit_rows(store)
    report = verify_chain(store, "audit_log")
    assert report.ok, report.problem
    assert report.rows == report.head_id == 4


def test_a_deleted_row_is_found(store: Store) -> None:
    _audit_rows(store)
    _tamper(store, "audit_log", "DELETE FROM audit_log WHERE id = 2")
    report = verify_chain(store, "audit_log")
    assert report.broken_id == 3
    assert "deleted" in (report.problem or "")


def test_an_edited_row_is_found(store: Store) -> None:
    _audit_rows(store)
    _tamper(store, "audit_log", "UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    report = verify_chain(store, "audit_log")
    assert report.broken_id == 2
    assert "edited" in (report.problem or "")


def test_a_truncated_table_is_found(store: Store) -> None:
    _audit_rows(store)
    verb = "TRUNCATE audit_log" if store.dialect == "postgresql" else "DELETE FROM audit_log"
    _tamper(store, "audit_log", verb)
    report = verify_chain(store, "audit_log")
    assert not report.ok
    assert report.broken_id == 1
    assert "truncated" in (report.problem or "")


def test_a_reinserted_row_is_found(store: Store) -> None:
    _audit_rows(store)
    _tamper(
        store,
        "audit_log",
        "INSERT INTO audit_log (id, time, actor, action, target, detail, prev_hash, row_hash) "
        "SELECT 5, time, actor, action, target, detail, prev_hash, row_hash "
        "FROM audit_log WHERE id = 2",
    )
    report = verify_chain(store, "audit_log")
    assert report.broken_id == 5


def test_an_edited_setpoint_write_is_found(store: Store) -> None:
    _write_rows(store, 3)
    assert verify_chain(store, "setpoint_writes").ok
    _tamper(store, "setpoint_writes", "UPDATE setpoint_writes SET written = 9 WHERE id = 3")
    assert verify_chain(store, "setpoint_writes").broken_id == 3


def _write_rows(store: Store, n: int) -> None:
    for i in range(n):
        record_setpoint_write(
            store,
            SetpointWriteRecord(
                T0 + dt.timedelta(seconds=i), "s", "a", "p", 1.0, 1.0, 1.0, 1.0, "ok", "", "t"
            ),
        )


def test_the_database_refuses_rewrites_of_the_records(store: Store) -> None:
    _audit_rows(store, 1)
    _write_rows(store, 1)
    statements = [
        "UPDATE setpoint_writes SET actor = 'mallory'",
        "DELETE FROM setpoint_writes",
    ]
    if store.dialect == "sqlite":  # INSERT OR REPLACE overwrote row 1 before
        statements.append(
            "INSERT OR REPLACE INTO audit_log (id, time, actor, action, detail, prev_hash, "
            "row_hash) VALUES (1, '2026-01-01T00:00:00.000000', 'm', 'x', '{}', '', '')"
        )
    else:
        statements += ["TRUNCATE audit_log", "TRUNCATE setpoint_writes"]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert verify_chain(store, "audit_log").ok


def test_concurrent_appends_keep_one_chain(store: Store) -> None:
    def work(n: int) -> None:
        for i in range(10):
            append_audit(store, f"w{n}", "test.concurrent", detail={"i": i}, time=T0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_chain(store, "audit_log")
    assert report.ok, report.problem
    assert report.rows == 40


def test_kv_audit_verify_names_the_first_broken_row(tmp_path: Path, sqlite_store: Store) -> None:
    url = str(sqlite_store.engine.url)
    _audit_rows(sqlite_store)
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify", "--url", url])
    assert intact.exit_code == 0, intact.output
    assert "audit_log: intact, 4 rows" in intact.output
    head = verify_chain(sqlite_store, "audit_log")
    _tamper(sqlite_store, "audit_log", "UPDATE audit_log SET detail = '{}' WHERE id = 3")
    broken = runner.invoke(app, ["audit", "verify", "--url", url])
    assert broken.exit_code == 1
    assert "first broken row: 3" in broken.output
    # a head kept elsewhere catches a rewrite of the whole chain
    expect = f"audit_log:{head.head_id}:{head.head_hash}"
    _tamper(sqlite_store, "audit_log", "UPDATE audit_log SET row_hash = 'x' WHERE id = 4")
    checked = runner.invoke(app, ["audit", "verify", "--url", url, "--expect", expect])
    assert checked.exit_code == 1
    assert "has hash x" in checked.output
    assert runner.invoke(app, ["audit", "verify", "--help"]).exit_code == 0


def test_the_migration_chains_existing_rows(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'old.sqlite'}")
    store.upgrade("0001")
    with store.engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_log (time, actor, action, target, detail) "
                    "VALUES (:t, 'olga', :a, NULL, '{\"n\": 1}')"
                ),
                {"t": f"2026-06-01T10:0{i}:00.000000", "a": f"old.{i}"},
            )
    store.upgrade()
    report = verify_chain(store, "audit_log")
    assert report.ok, report.problem
    assert report.rows == 3
    append_audit(store, "olga", "new", time=T0)
    assert verify_chain(store, "audit_log").rows == 4
    store.dispose()


@pytest.fixture
def app_role_store(postgres_store: Store, postgres_url: str) -> Iterator[Store]:
    """The migrated PostgreSQL store, seen through a fresh application role."""
    postgres_store.upgrade()
    role = f"kv_app_{uuid.uuid4().hex[:8]}"
    ensure_app_role(postgres_store, role)
    with postgres_store.engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    store = Store.from_url(
        postgres_url, connect_args={"options": f"-csearch_path={schema} -crole={role}"}
    )
    try:
        yield store
    finally:
        store.dispose()
        owner = create_engine(postgres_url)
        with owner.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()


@pytest.mark.postgres
def test_the_application_role_cannot_lift_the_protection(app_role_store: Store) -> None:
    store = app_role_store
    append_audit(store, "olga", "test.as-app", time=T0)  # it can append
    for statement in (
        "TRUNCATE audit_log",
        "TRUNCATE setpoint_writes",
        "DROP TRIGGER audit_log_no_change ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        "ALTER TABLE setpoint_writes DISABLE TRIGGER USER",
        "DELETE FROM audit_log",
        "UPDATE setpoint_writes SET actor = 'm'",
    ):
        with (
            pytest.raises(DBAPIError, match=r"permission denied|must be owner"),
            store.engine.begin() as conn,
        ):
            conn.execute(text(statement))
    assert verify_chain(store, "audit_log").ok
