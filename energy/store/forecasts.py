"""Store access for forecasts, the forecast model registry and backtest results.

Forecasts are stored long (target, model_version, issue_time, valid_time, quantile, value) with
the time they were issued; a forecast once written is never overwritten (duplicates are ignored).
`read_latest_forecast` answers "what did we believe at time t": the newest issue at or before t;
`read_forecast_in_force` what each recent slot was planned with: per slot, the newest issue at or
before its start.

JSON columns (features, params, metrics, settings) get plain JSON: NaN and infinities become null
(PostgreSQL's JSON type rejects NaN), numpy scalars become Python numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, insert, select

from energy.store.engine import Store
from energy.store.schema import backtests, forecast_models, forecasts
from energy.store.sql import insert_ignoring_duplicates
from energy.store.types import to_utc_datetime

__all__ = [
    "ModelRecord",
    "get_model",
    "latest_model",
    "list_backtests",
    "list_models",
    "plain_json",
    "read_forecast",
    "read_forecast_in_force",
    "read_latest_forecast",
    "register_model",
    "write_backtest",
    "write_forecasts",
]

FORECAST_COLUMNS = ["target", "model_version", "issue_time", "valid_time", "quantile", "value"]
_CHUNK = 5000


def plain_json(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None, numpy scalars and arrays -> Python, timestamps -> ISO."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def write_forecasts(store: Store, frame: pd.DataFrame) -> int:
    """Insert forecast rows (FORECAST_COLUMNS); rows already stored are kept. Returns rows sent."""
    missing = [c for c in FORECAST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"write_forecasts: frame lacks columns {missing}; has {list(frame)}")
    if frame.empty:
        return 0
    if frame["value"].isna().any():
        raise ValueError("write_forecasts: value is NaN in some rows; a forecast needs a value")
    rows = [
        {
            "target": str(r.target),
            "model_version": str(r.model_version),
            "issue_time": to_utc_datetime(r.issue_time),
            "valid_time": to_utc_datetime(r.valid_time),
            "quantile": float(r.quantile),
            "value": float(r.value),
        }
        for r in frame[FORECAST_COLUMNS].itertuples(index=False)
    ]
    statement = insert_ignoring_duplicates(forecasts, store.dialect)
    with store.engine.begin() as conn:
        for start in range(0, len(rows), _CHUNK):
            conn.execute(statement, rows[start : start + _CHUNK])
    return len(rows)


def _frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=FORECAST_COLUMNS)
    for column in ("issue_time", "valid_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def read_forecast(
    store: Store,
    target: str,
    issue_time: dt.datetime | pd.Timestamp,
    model_version: str | None = None,
) -> pd.DataFrame:
    """All rows of one issue of a target (optionally of one model version), ordered."""
    conditions = [
        forecasts.c.target == target,
        forecasts.c.issue_time == to_utc_datetime(issue_time),
    ]
    if model_version is not None:
        conditions.append(forecasts.c.model_version == model_version)
    query = (
        select(*[forecasts.c[c] for c in FORECAST_COLUMNS])
        .where(and_(*conditions))
        .order_by(forecasts.c.model_version, forecasts.c.valid_time, forecasts.c.quantile)
    )
    with store.engine.connect() as conn:
        return _frame(conn.execute(query).all())


def read_latest_forecast(
    store: Store,
    target: str,
    at: dt.datetime | pd.Timestamp,
    model_version: str | None = None,
) -> pd.DataFrame:
    """The newest forecast of `target` issued at or before `at` (empty frame if there is none)."""
    conditions = [forecasts.c.target == target, forecasts.c.issue_time <= to_utc_datetime(at)]
    if model_version is not None:
        conditions.append(forecasts.c.model_version == model_version)
    newest = select(func.max(forecasts.c.issue_time)).where(and_(*conditions))
    with store.engine.connect() as conn:
        issue = conn.execute(newest).scalar_one_or_none()
    if issue is None:
        return _frame([])
    frame = read_forecast(store, target, issue, model_version)
    if model_version is None and frame["model_version"].nunique() > 1:
        # several models issued at the same time: keep the most recently registered one
        versions = list_models(store, target)
        order = [v for v in versions["version"] if v in set(frame["model_version"])]
        keep = order[0] if order else frame["model_version"].iloc[-1]
        frame = frame[frame["model_version"] == keep].reset_index(drop=True)
    return frame


def read_forecast_in_force(
    store: Store,
    targets: Sequence[str],
    start: dt.datetime | pd.Timestamp,
    end: dt.datetime | pd.Timestamp,
    quantile: float = 0.5,
    max_age: dt.timedelta = dt.timedelta(hours=6),
) -> pd.DataFrame:
    """Per slot of [start, end) and target, the value of the newest forecast issued at or before
    the slot's start and at most max_age before it: the forecast the slot was planned with.

    Wide: index the slot starts found (UTC), one column per target found. Where several model
    versions issued at the same time, their mean.
    """
    first, last = to_utc_datetime(start), to_utc_datetime(end)
    query = select(
        forecasts.c.target, forecasts.c.issue_time, forecasts.c.valid_time, forecasts.c.value
    ).where(
        forecasts.c.issue_time >= first - max_age,
        forecasts.c.issue_time < last,
        forecasts.c.valid_time >= first,
        forecasts.c.valid_time < last,
        forecasts.c.issue_time <= forecasts.c.valid_time,
        forecasts.c.quantile == quantile,
        forecasts.c.target.in_(list(targets)),
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["target", "issue_time", "valid_time", "value"])
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
    for column in ("issue_time", "valid_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    newest = frame.groupby(["target", "valid_time"])["issue_time"].transform("max")
    frame = frame[frame["issue_time"] == newest]
    wide = frame.pivot_table(index="valid_time", columns="target", values="value", aggfunc="mean")
    wide.columns.name = None
    return wide.sort_index()


@dataclass(frozen=True)
class ModelRecord:
    """A registered forecast model: what it forecasts, how and on what it was trained."""

    version: str
    target: str
    kind: str
    created_at: dt.datetime
    training_start: dt.datetime | None
    training_end: dt.datetime | None
    features: Any
    params: Any
    metrics: Any
    artifact_path: str | None


def register_model(store: Store, record: ModelRecord) -> None:
    """Add a model to the registry. A version is registered once; re-registering is an error."""
    values = {
        "version": record.version,
        "target": record.target,
        "kind": record.kind,
        "created_at": to_utc_datetime(record.created_at),
        "training_start": to_utc_datetime(record.training_start) if record.training_start else None,
        "training_end": to_utc_datetime(record.training_end) if record.training_end else None,
        "features": plain_json(record.features),
        "params": plain_json(record.params),
        "metrics": plain_json(record.metrics),
        "artifact_path": record.artifact_path,
    }
    if get_model(store, record.version) is not None:
        raise ValueError(f"forecast model version {record.version!r} is already registered")
    with store.engine.begin() as conn:
        conn.execute(insert(forecast_models).values(**values))


def _record(row: Any) -> ModelRecord:
    return ModelRecord(**dict(row._mapping))


def get_model(store: Store, version: str) -> ModelRecord | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(forecast_models).where(forecast_models.c.version == version)
        ).first()
    return _record(row) if row is not None else None


def latest_model(store: Store, target: str) -> ModelRecord | None:
    """The most recently created model of a target."""
    query = (
        select(forecast_models)
        .where(forecast_models.c.target == target)
        .order_by(forecast_models.c.created_at.desc(), forecast_models.c.version.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return _record(row) if row is not None else None


def list_models(store: Store, target: str | None = None) -> pd.DataFrame:
    """Registered models, newest first: version, target, kind, created_at, training window,
    metrics, artifact_path."""
    query = select(
        forecast_models.c.version,
        forecast_models.c.target,
        forecast_models.c.kind,
        forecast_models.c.created_at,
        forecast_models.c.training_start,
        forecast_models.c.training_end,
        forecast_models.c.metrics,
        forecast_models.c.artifact_path,
    ).order_by(forecast_models.c.created_at.desc(), forecast_models.c.version.desc())
    if target is not None:
        query = query.where(forecast_models.c.target == target)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    columns = [
        "version",
        "target",
        "kind",
        "created_at",
        "training_start",
        "training_end",
        "metrics",
        "artifact_path",
    ]
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def write_backtest(
    store: Store,
    target: str,
    model_version: str,
    period_start: dt.datetime | pd.Timestamp,
    period_end: dt.datetime | pd.Timestamp,
    settings: dict[str, Any],
    metrics: dict[str, Any],
    report_path: str | None = None,
    created_at: dt.datetime | None = None,
) -> int:
    """Store one backtest's settings and metrics (per forecaster); returns its id."""
    values = {
        "created_at": to_utc_datetime(created_at or dt.datetime.now(dt.UTC)),
        "target": target,
        "model_version": model_version,
        "period_start": to_utc_datetime(period_start),
        "period_end": to_utc_datetime(period_end),
        "settings": plain_json(settings),
        "metrics": plain_json(metrics),
        "report_path": report_path,
    }
    with store.engine.begin() as conn:
        result = conn.execute(insert(backtests).values(**values).returning(backtests.c.id))
        return int(result.scalar_one())


def list_backtests(store: Store, target: str | None = None) -> pd.DataFrame:
    """Stored backtests, newest first, comparable across model versions."""
    query = select(backtests).order_by(backtests.c.created_at.desc(), backtests.c.id.desc())
    if target is not None:
        query = query.where(backtests.c.target == target)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([dict(r._mapping) for r in rows], columns=list(backtests.c.keys()))
