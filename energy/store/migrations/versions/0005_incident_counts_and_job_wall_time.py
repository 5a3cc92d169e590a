"""incident counts on alarms, wall-clock duration of job runs

alarms.occurrences counts the reports of one open alarm (existing rows: 1), so that identical
alarms become one incident with a count; job_runs.wall_duration_s is a run's duration in wall
seconds (existing rows: NULL, shown from their start and end times).

Revision ID: 0005
Revises: 0004
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alarms') as batch:
        batch.add_column(
            sa.Column('occurrences', sa.Integer(), server_default=sa.text('1'), nullable=False)
        )
    with op.batch_alter_table('job_runs') as batch:
        batch.add_column(sa.Column('wall_duration_s', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job_runs') as batch:
        batch.drop_column('wall_duration_s')
    with op.batch_alter_table('alarms') as batch:
        batch.drop_column('occurrences')
