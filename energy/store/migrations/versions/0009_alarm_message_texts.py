"""alarm message texts: the key and values of an alarm's message, for the console to translate

Revision ID: 0009
Revises: 0008
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alarms') as batch:
        batch.add_column(sa.Column('message_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('message_values', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alarms') as batch:
        batch.drop_column('message_values')
        batch.drop_column('message_key')
