"""initial schema

Revision ID: 0001
Revises: 
Created: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import energy.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _audit_log_append_only() -> None:
    """The audit log is append-only: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
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


def upgrade() -> None:
    op.create_table('alarms',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=96), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('raised_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('acknowledged_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index('ix_alarms_site_state', ['site_id', 'state'], unique=False)

    op.create_table('asset_modes',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('asset_id', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site_id', 'asset_id', name=op.f('pk_asset_modes'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('time', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_time', ['time'], unique=False)

    op.create_table('backtests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('target', sa.String(length=96), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('period_start', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('report_path', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backtests'))
    )
    op.create_table('forecast_models',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=96), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('training_start', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('training_end', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('artifact_path', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_forecast_models'))
    )
    op.create_table('forecasts',
    sa.Column('target', sa.String(length=96), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('issue_time', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_time', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('quantile', sa.Float(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('target', 'model_version', 'issue_time', 'valid_time', 'quantile', name=op.f('pk_forecasts')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('forecasts', schema=None) as batch_op:
        batch_op.create_index('ix_forecasts_issue', ['issue_time'], unique=False)

    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('instance', sa.String(length=128), nullable=False),
    sa.Column('started_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job', 'started_at'], unique=False)

    op.create_table('leases',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('acquired_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('renewed_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_leases'))
    )
    op.create_table('overrides',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('asset_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_overrides'))
    )
    op.create_table('plans',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('horizon_start', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('horizon_end', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('solver_status', sa.String(length=32), nullable=False),
    sa.Column('termination', sa.String(length=64), nullable=True),
    sa.Column('objective_eur', sa.Float(), nullable=True),
    sa.Column('mip_gap', sa.Float(), nullable=True),
    sa.Column('fallback', sa.String(length=32), nullable=False),
    sa.Column('build_seconds', sa.Float(), nullable=True),
    sa.Column('solve_seconds', sa.Float(), nullable=True),
    sa.Column('extract_seconds', sa.Float(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('site_id', 'version', name='uq_plans_site_version')
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index('ix_plans_site_state', ['site_id', 'state'], unique=False)

    op.create_table('series',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('asset_id', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series')),
    sa.UniqueConstraint('site_id', 'asset_id', 'quantity', name='uq_series_key')
    )
    op.create_table('setpoint_writes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('time', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('asset_id', sa.String(length=64), nullable=False),
    sa.Column('point', sa.String(length=64), nullable=False),
    sa.Column('requested', sa.Float(), nullable=True),
    sa.Column('clamped', sa.Float(), nullable=True),
    sa.Column('written', sa.Float(), nullable=True),
    sa.Column('read_back', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_setpoint_writes'))
    )
    with op.batch_alter_table('setpoint_writes', schema=None) as batch_op:
        batch_op.create_index('ix_setpoint_writes_time', ['time'], unique=False)

    op.create_table('sites',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('updated_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('created_at', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', energy.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('assets',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('house_id', sa.String(length=64), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_assets_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', 'id', name=op.f('pk_assets'))
    )
    op.create_table('measurements',
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('time', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('quality', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_measurements_series_id_series')),
    sa.PrimaryKeyConstraint('series_id', 'time', name=op.f('pk_measurements')),
    sqlite_with_rowid=False
    )
    op.create_table('plan_values',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.String(length=64), nullable=False),
    sa.Column('slot_start', energy.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_values_plan_id_plans')),
    sa.PrimaryKeyConstraint('plan_id', 'asset_id', 'quantity', 'slot_start', name=op.f('pk_plan_values')),
    sqlite_with_rowid=False
    )
    _audit_log_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table('plan_values')
    op.drop_table('measurements')
    op.drop_table('assets')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('sites')
    with op.batch_alter_table('setpoint_writes', schema=None) as batch_op:
        batch_op.drop_index('ix_setpoint_writes_time')

    op.drop_table('setpoint_writes')
    op.drop_table('series')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index('ix_plans_site_state')

    op.drop_table('plans')
    op.drop_table('overrides')
    op.drop_table('leases')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
    with op.batch_alter_table('forecasts', schema=None) as batch_op:
        batch_op.drop_index('ix_forecasts_issue')

    op.drop_table('forecasts')
    op.drop_table('forecast_models')
    op.drop_table('backtests')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_time')

    op.drop_table('audit_log')
    op.drop_table('asset_modes')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index('ix_alarms_site_state')

    op.drop_table('alarms')
