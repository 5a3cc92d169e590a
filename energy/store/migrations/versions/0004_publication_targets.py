"""publication targets: one status row per data-hub target

Revision ID: 0004
Revises: 0003
Created: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import energy.store.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication_targets',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('endpoint', sa.String(length=300), nullable=False),
    sa.Column('last_attempt_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failing_since', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('queue_length', sa.Integer(), nullable=False),
    sa.Column('dropped_total', sa.Integer(), nullable=False),
    sa.Column('sent_total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('site_id', 'target', name=op.f('pk_publication_targets'))
    )


def downgrade() -> None:
    op.drop_table('publication_targets')
