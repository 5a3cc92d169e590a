"""Read-only queries of the interface: thin adapters over the store modules (records for JSON),
plus the two the store does not offer (newest issue per forecast target, measured values per slot).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from energy.quality import Quality
from energy.store import forecasts as forecasts_store
from energy.store.engine import Store
from energy.store.forecasts import list_models
from energy.store.schema import forecasts, measurements, series, sites

__all__ = [
    "forecast_issues",
    "list_backtests",
    "list_forecast_models",
    "list_sites",
    "measured_slots",
    "read_forecast",
]


def list_sites(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(sites.c.id, sites.c.name, sites.c.updated_at).order_by(sites.c.id)
        )
        return [dict(r._mapping) for r in rows]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (NaN, NaT), timestamps as datetimes."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {k: v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for k, v in row.items()}
        for row in rows
    ]


def list_forecast_models(store: Store, target: str | None = None) -> list[dict[str, Any]]:
    """Model versions with their training window and metrics, newest first."""
    return _records(list_models(store, target))


def forecast_issues(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Per target and model: the newest issue time and how many values it holds."""
    newest = (
        select(
            forecasts.c.target,
            forecasts.c.model_version,
            func.max(forecasts.c.issue_time).label("issue_time"),
        )
        .group_by(forecasts.c.target, forecasts.c.model_version)
        .subquery()
    )
    query = (
        select(
            newest.c.target,
            newest.c.model_version,
            newest.c.issue_time,
            func.count().label("values"),
            func.min(forecasts.c.valid_time).label("valid_from"),
            func.max(forecasts.c.valid_time).label("valid_to"),
        )
        .join(
            forecasts,
            (forecasts.c.target == newest.c.target)
            & (forecasts.c.model_version == newest.c.model_version)
            & (forecasts.c.issue_time == newest.c.issue_time),
        )
        .group_by(newest.c.target, newest.c.model_version, newest.c.issue_time)
        .order_by(newest.c.issue_time.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def read_forecast(
    store: Store,
    target: str,
    now: dt.datetime,
    model_version: str | None = None,
    issue_time: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The values of one forecast issue (default: the newest issued at or before now)."""
    if issue_time is not None:
        frame = forecasts_store.read_forecast(store, target, issue_time, model_version)
    else:
        frame = forecasts_store.read_latest_forecast(store, target, now, model_version)
    return _records(frame)


def list_backtests(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    return _records(forecasts_store.list_backtests(store).head(limit))


def measured_slots(
    store: Store,
    site_id: str,
    quantities: list[tuple[str, str]],
    start: dt.datetime,
    end: dt.datetime,
    slot_minutes: int,
) -> pd.DataFrame:
    """Measured (asset_id, quantity) series averaged per slot in [start, end), long format
    (asset_id, quantity, slot_start, value), read in one query.

    Only good-quality values count; a slot without one is absent rather than zero.
    """
    columns = ["asset_id", "quantity", "slot_start", "value"]
    wanted = set(quantities)
    if not wanted:
        return pd.DataFrame(columns=columns)
    query = (
        select(series.c.asset_id, series.c.quantity, measurements.c.time, measurements.c.value)
        .join(series, series.c.id == measurements.c.series_id)
        .where(
            series.c.site_id == site_id,
            series.c.asset_id.in_(sorted({a for a, _ in wanted})),
            series.c.quantity.in_(sorted({q for _, q in wanted})),
            measurements.c.time >= start,
            measurements.c.time < end,
            measurements.c.quality == int(Quality.GOOD),
            measurements.c.value.is_not(None),
        )
    )
    with store.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query)]  # plain tuples: pandas is slow on Rows
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value"])
    keys = pd.MultiIndex.from_frame(frame[["asset_id", "quantity"]])
    frame = frame[keys.isin(list(wanted))]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["slot_start"] = pd.to_datetime(frame["time"], utc=True).dt.floor(f"{slot_minutes}min")
    means = frame.groupby(["asset_id", "quantity", "slot_start"], sort=True)["value"].mean()
    return means.reset_index()[columns]
