"""Issued weather forecasts in the store, with the time they were known.

Each answer of a live weather feed is stored in the forecasts table, long, one target per site
and weather column (`<site_id>:weather:<column>`, e.g. `klimaviertel:weather:ghi_w_per_m2`), the
feed's name as model_version (`bright-sky`, `open-meteo`), the time the platform received it as
issue_time and quantile 0.5. The forecasters and the backtests therefore train on the weather
as it was forecast at the time, and the fallback chain finds the newest stored forecast that
still covers a horizon.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import and_, delete, func, select

from energy.store.engine import Store
from energy.store.forecasts import write_forecasts
from energy.store.schema import forecasts
from energy.store.types import to_utc_datetime
from energy.weather import WEATHER_COLUMNS, weather_gap

__all__ = [
    "StoredWeather",
    "prune_weather_forecasts",
    "read_stored_weather",
    "weather_target",
    "write_weather_forecast",
]

#: stored issues examined when looking for one that covers a horizon
_CANDIDATES = 48


def weather_target(site_id: str, column: str) -> str:
    return f"{site_id}:weather:{column}"


def write_weather_forecast(
    store: Store, site_id: str, source: str, issue_time: dt.datetime, frame: pd.DataFrame
) -> int:
    """Store the finite values of a weather frame as issued by source at issue_time."""
    columns = [c for c in WEATHER_COLUMNS if c in frame.columns]
    long = frame[columns].melt(ignore_index=False, var_name="column", value_name="value")
    long = long.dropna(subset=["value"]).rename_axis("valid_time").reset_index()
    long["target"] = [weather_target(site_id, c) for c in long["column"]]
    long["model_version"] = source
    long["issue_time"] = pd.Timestamp(issue_time)
    long["quantile"] = 0.5
    return write_forecasts(store, long)


@dataclass(frozen=True)
class StoredWeather:
    """A stored weather forecast: its frame, its source and when it was issued."""

    frame: pd.DataFrame
    source: str
    issue_time: dt.datetime


def read_stored_weather(
    store: Store, site_id: str, at: dt.datetime, grid: pd.DatetimeIndex
) -> StoredWeather | None:
    """The newest forecast issued at or before `at` that covers every slot of grid with the
    required weather columns (None when no stored issue does)."""
    temp = weather_target(site_id, "temp_outdoor_c")
    first, last = to_utc_datetime(grid[0]), to_utc_datetime(grid[-1])
    issues = (
        select(forecasts.c.issue_time, forecasts.c.model_version, func.count())
        .where(
            and_(
                forecasts.c.target == temp,
                forecasts.c.issue_time <= to_utc_datetime(at),
                forecasts.c.valid_time >= first,
                forecasts.c.valid_time <= last,
            )
        )
        .group_by(forecasts.c.issue_time, forecasts.c.model_version)
        .order_by(forecasts.c.issue_time.desc())
        .limit(_CANDIDATES)
    )
    targets = [weather_target(site_id, c) for c in WEATHER_COLUMNS]
    with store.engine.connect() as conn:
        candidates = conn.execute(issues).all()
        for issue_time, source, count in candidates:
            if count < len(grid):
                continue
            rows = conn.execute(
                select(forecasts.c.target, forecasts.c.valid_time, forecasts.c.value).where(
                    and_(
                        forecasts.c.target.in_(targets),
                        forecasts.c.model_version == source,
                        forecasts.c.issue_time == issue_time,
                        forecasts.c.valid_time >= first,
                        forecasts.c.valid_time <= last,
                    )
                )
            ).all()
            frame = _wide(rows, site_id, grid)
            if weather_gap(frame, grid) is None:
                return StoredWeather(frame, str(source), to_utc_datetime(issue_time))
    return None


def _wide(rows: Sequence[Any], site_id: str, grid: pd.DatetimeIndex) -> pd.DataFrame:
    long = pd.DataFrame(rows, columns=["target", "valid_time", "value"])
    long["valid_time"] = pd.to_datetime(long["valid_time"], utc=True)
    long["column"] = long["target"].str.removeprefix(f"{site_id}:weather:")
    wide = long.pivot_table(index="valid_time", columns="column", values="value", aggfunc="mean")
    wide.columns.name = None
    ordered = [c for c in WEATHER_COLUMNS if c in wide.columns]
    return wide[ordered].reindex(grid).rename_axis("slot_start")


def prune_weather_forecasts(store: Store, site_id: str, issued_before: dt.datetime) -> int:
    """Delete the site's stored weather forecasts issued before `issued_before`; returns the
    number of rows deleted (housekeeping: the store would otherwise grow with every issue)."""
    targets = [weather_target(site_id, c) for c in WEATHER_COLUMNS]
    with store.engine.begin() as conn:
        return int(
            conn.execute(
                delete(forecasts).where(
                    forecasts.c.target.in_(targets),
                    forecasts.c.issue_time < to_utc_datetime(issued_before),
                )
            ).rowcount
        )
