"""grid limits: §14a dimming and feed-in limits set through the API

Revision ID: 0006
Revises: 0005
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import energy.store.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('grid_limits',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('limit_kw', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_from', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_limits'))
    )
    op.create_index('ix_grid_limits_site_until', 'grid_limits', ['site_id', 'valid_until'])


def downgrade() -> None:
    op.drop_index('ix_grid_limits_site_until', table_name='grid_limits')
    op.drop_table('grid_limits')
