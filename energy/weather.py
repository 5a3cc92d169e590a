"""The weather contract between feeds and the control loop.

A weather feed answers `forecast(issue_time, horizon)` with the platform's weather frame:
15-minute UTC slots [t, t + 15 min) as index (slot starts, `slot_grid(floor_slot(issue_time),
ceil_slot(floor_slot(issue_time) + horizon))`) and slot-average columns `temp_outdoor_c` [degC],
`ghi_w_per_m2` and, where the source has them, `dni_w_per_m2` and `dhi_w_per_m2` [W/m2]. A slot
the source has no value for is NaN, never invented. The live services (connectors.weather), the
reference-year feed of the simulator (energy.physics.weather_feed) and the fallback chain of the
live loop (energy.control.weather) all speak this one protocol.

`weather_gap` is the one test of "does this frame cover the horizon", used by the fallback
chain for live answers and for stored forecasts alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import pandas as pd

from energy.timegrid import ceil_slot, floor_slot, slot_grid

__all__ = [
    "REQUIRED_COLUMNS",
    "WEATHER_COLUMNS",
    "WeatherActuals",
    "WeatherFeed",
    "WeatherFeedError",
    "forecast_window",
    "weather_gap",
]

WEATHER_COLUMNS = ("temp_outdoor_c", "ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2")
#: what the forecasters cannot do without: heat demand needs temperature, PV needs irradiance
REQUIRED_COLUMNS = ("temp_outdoor_c", "ghi_w_per_m2")


class WeatherFeedError(RuntimeError):
    """A weather source could not deliver (HTTP error, malformed payload, bad file, gaps)."""


class WeatherFeed(Protocol):
    """Where the live loop, the forecasters and the evaluation get weather forecasts from."""

    name: str

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        """Weather for the slots in [issue_time, issue_time + horizon), as known at issue_time."""
        ...


class WeatherActuals(Protocol):
    """The weather of finished slots (a station observation, the site's sensor, a file)."""

    def actual(self, slot_start: pd.Timestamp) -> pd.Series:
        """Slot-average weather columns of the finished slot starting at slot_start."""
        ...


def forecast_window(issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DatetimeIndex:
    """The slots a forecast issued at issue_time for horizon must cover."""
    start = floor_slot(issue_time)
    return slot_grid(start, ceil_slot(start + horizon))


def weather_gap(frame: pd.DataFrame, grid: pd.DatetimeIndex) -> str | None:
    """Why frame does not cover every slot of grid with the required columns (None: it does)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        return (
            f"no column {', '.join(missing)} (has {', '.join(map(str, frame.columns)) or 'none'})"
        )
    values = frame.reindex(grid)[list(REQUIRED_COLUMNS)]
    empty = values.isna().any(axis=1)
    if empty.any():
        first = grid[empty.to_numpy()][0]
        return (
            f"{int(empty.sum())} of {len(grid)} slots without "
            f"{'/'.join(REQUIRED_COLUMNS)}, first {first.isoformat()}"
        )
    return None
