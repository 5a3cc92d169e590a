"""browser sessions held on the server

Revision ID: 0003
Revises: 0002
Created: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import energy.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", energy.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", energy.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", energy.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", energy.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions") as batch:
        batch.create_index("ix_sessions_user", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_user")
    op.drop_table("sessions")
