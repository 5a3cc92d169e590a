"""user preferences: each user's language and quiet hours for notifications

Revision ID: 0008
Revises: 0007
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('quiet_start', sa.Time(), nullable=True))
        batch.add_column(sa.Column('quiet_end', sa.Time(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('quiet_end')
        batch.drop_column('quiet_start')
        batch.drop_column('language')
