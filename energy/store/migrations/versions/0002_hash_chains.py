"""hash chains over audit_log and setpoint_writes; both append-only in the database

Revision ID: 0002
Revises: 0001
Created: 2026-12-05

Existing rows keep their ids and content and are chained in id order (energy.store.chain); the
heads go into chain_heads. Both tables refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), and
an INSERT that reuses an id (SQLite's INSERT OR REPLACE would otherwise overwrite the row).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("audit_log", "setpoint_writes")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_old_triggers() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb}")


def _create_triggers() -> None:
    if _postgres():
        op.execute(
            "CREATE FUNCTION kv_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION kv_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION kv_append_only()"
            )
        return
    for table in TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only ({verb} refused)'); END"
            )
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (id reused)'); END"
        )


def _chain_existing_rows() -> None:
    from energy.store.chain import GENESIS_HASH, row_hash
    from energy.store.schema import audit_log, chain_heads, setpoint_writes

    conn = op.get_bind()
    for table in (audit_log, setpoint_writes):
        previous, last_id, count = GENESIS_HASH, 0, 0
        updates = []
        for row in conn.execute(sa.select(table).order_by(table.c.id)):
            digest = row_hash(table.name, previous, row._mapping)
            updates.append({"key": row.id, "prev": previous, "digest": digest})
            previous, last_id, count = digest, row.id, count + 1
        if updates:
            conn.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("key"))
                .values(prev_hash=sa.bindparam("prev"), row_hash=sa.bindparam("digest")),
                updates,
            )
        conn.execute(
            chain_heads.insert().values(
                name=table.name, last_id=last_id, last_hash=previous, rows=count
            )
        )


def upgrade() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_heads")),
    )
    _drop_old_triggers()
    for table in TABLES:
        # plain ALTER TABLE (no batch copy) first: the rows are hashed before NOT NULL is set
        op.add_column(table, sa.Column("prev_hash", sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column("row_hash", sa.String(length=64), nullable=True))
    _chain_existing_rows()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
            batch.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
    _create_triggers()


def downgrade() -> None:
    if _postgres():
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS kv_append_only()")
    else:
        for table in TABLES:
            for verb in ("update", "delete", "replace"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("row_hash")
            batch.drop_column("prev_hash")
    op.drop_table("chain_heads")
    if _postgres():
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
