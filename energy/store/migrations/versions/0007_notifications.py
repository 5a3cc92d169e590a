"""notifications: users' e-mail address and opt-in, the log of notifications sent

Revision ID: 0007
Revises: 0006
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import energy.store.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch.add_column(
            sa.Column('notify_opt_in', sa.Boolean(), nullable=False, server_default=sa.text('false'))
        )
    op.create_table('notifications_sent',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('incident_key', sa.String(length=255), nullable=False),
    sa.Column('alarm_ids', sa.JSON(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('sent_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications_sent'))
    )
    op.create_index('ix_notifications_sent_key', 'notifications_sent', ['site_id', 'incident_key'])


def downgrade() -> None:
    op.drop_index('ix_notifications_sent_key', table_name='notifications_sent')
    op.drop_table('notifications_sent')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('notify_opt_in')
        batch.drop_column('email')
