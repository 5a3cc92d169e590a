"""Tables of the store (SQLAlchemy Core). Alembic migrations under migrations/ create them.

Every time column is UTCDateTime. Measurements and plan values are narrow (one value per row) and
keyed by integer series ids so that a year of 15-minute values for a hundred series stays small.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)

from energy.store.types import UTCDateTime

__all__ = ["metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("config", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

assets = Table(
    "assets",
    metadata,
    Column("site_id", String(64), ForeignKey("sites.id"), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("house_id", String(64)),
    Column("params", JSON, nullable=False),
)

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("asset_id", String(64), nullable=False),
    Column("quantity", String(64), nullable=False),
    Column("unit", String(16), nullable=False, default=""),
    UniqueConstraint("site_id", "asset_id", "quantity", name="uq_series_key"),
)

measurements = Table(
    "measurements",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id"), primary_key=True),
    Column("time", UTCDateTime, primary_key=True),
    Column("value", Float),
    Column("quality", SmallInteger, nullable=False),
    sqlite_with_rowid=False,
)

forecasts = Table(
    "forecasts",
    metadata,
    Column("target", String(96), primary_key=True),
    Column("model_version", String(64), primary_key=True),
    Column("issue_time", UTCDateTime, primary_key=True),
    Column("valid_time", UTCDateTime, primary_key=True),
    Column("quantile", Float, primary_key=True),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)
Index("ix_forecasts_issue", forecasts.c.issue_time)

forecast_models = Table(
    "forecast_models",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("target", String(96), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("training_start", UTCDateTime),
    Column("training_end", UTCDateTime),
    Column("features", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("artifact_path", Text),
)

backtests = Table(
    "backtests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("target", String(96), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("report_path", Text),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("horizon_start", UTCDateTime, nullable=False),
    Column("horizon_end", UTCDateTime, nullable=False),
    Column("slot_minutes", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("solver_status", String(32), nullable=False),
    Column("termination", String(64)),
    Column("objective_eur", Float),
    Column("mip_gap", Float),
    Column("fallback", String(32), nullable=False, default="none"),
    Column("build_seconds", Float),
    Column("solve_seconds", Float),
    Column("extract_seconds", Float),
    Column("summary", JSON, nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", UTCDateTime),
    Column("decision_note", Text),
    UniqueConstraint("site_id", "version", name="uq_plans_site_version"),
)
Index("ix_plans_site_state", plans.c.site_id, plans.c.state)

plan_values = Table(
    "plan_values",
    metadata,
    Column("plan_id", Integer, ForeignKey("plans.id"), primary_key=True),
    Column("asset_id", String(64), primary_key=True),
    Column("quantity", String(64), primary_key=True),
    Column("slot_start", UTCDateTime, primary_key=True),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)

setpoint_writes = Table(
    "setpoint_writes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("asset_id", String(64), nullable=False),
    Column("point", String(64), nullable=False),
    Column("requested", Float),
    Column("clamped", Float),
    Column("written", Float),
    Column("read_back", Float),
    Column("outcome", String(32), nullable=False),
    Column("detail", Text),
    Column("actor", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)
Index("ix_setpoint_writes_time", setpoint_writes.c.time)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(128)),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)
Index("ix_audit_log_time", audit_log.c.time)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("last_id", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
)
"""The last row of each hash chain (energy.store.chain); its row is the chain's append lock."""

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("source", String(96), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", UTCDateTime),
    Column("cleared_at", UTCDateTime),
    Column("occurrences", Integer, nullable=False, server_default=text("1")),
    # the message's key and values (energy.alarm_texts): the console shows it translated
    Column("message_key", String(64)),
    Column("message_values", JSON),
)
Index("ix_alarms_site_state", alarms.c.site_id, alarms.c.state)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("job", String(64), nullable=False),
    Column("instance", String(128), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text),
    Column("wall_duration_s", Float),
)
Index("ix_job_runs_job_started", job_runs.c.job, job_runs.c.started_at)

overrides = Table(
    "overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("asset_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Float),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("cancelled_at", UTCDateTime),
    Column("reason", Text),
)

grid_limits = Table(
    "grid_limits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("limit_kw", Float, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=False),
    Column("lifted_at", UTCDateTime),
    Column("lifted_by", String(64)),
    Column("reason", Text),
)
Index("ix_grid_limits_site_until", grid_limits.c.site_id, grid_limits.c.valid_until)

asset_modes = Table(
    "asset_modes",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("asset_id", String(64), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("changed_by", String(64), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("renewed_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    # notifications of critical incidents (energy.notify): where to, and whether the user wants them
    Column("email", String(254)),
    Column("notify_opt_in", Boolean, nullable=False, server_default=text("false")),
    # the user's own preferences (energy.store.preferences): console language (None: the
    # browser's), and a daily window of site local time without notifications
    Column("language", String(8)),
    Column("quiet_start", Time),
    Column("quiet_end", Time),
)

notifications_sent = Table(
    "notifications_sent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False),
    Column("incident_key", String(255), nullable=False),
    Column("alarm_ids", JSON, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("channels", JSON, nullable=False),
)
"""What the notification job sent (energy.notify.job): a restart does not send it again."""
Index("ix_notifications_sent_key", notifications_sent.c.site_id, notifications_sent.c.incident_key)

publication_targets = Table(
    "publication_targets",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("target", String(32), primary_key=True),
    Column("endpoint", String(300), nullable=False),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("failing_since", UTCDateTime),
    Column("last_error", Text),
    Column("queue_length", Integer, nullable=False, default=0),
    Column("dropped_total", Integer, nullable=False, default=0),
    Column("sent_total", Integer, nullable=False, default=0),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("end_reason", String(32)),
)
"""Browser sessions held on the server (id: SHA-256 of the secret in the signed cookie)."""
Index("ix_sessions_user", sessions.c.user_id)
