"""When a tank's anti-legionella program runs: one schedule for the plant and the plan.

The program starts once a week at a local weekday and time (`LegionellaConfig`); the plan keeps
the tank at the program's temperature over the hold that follows each start, and the plant's
local controller heats it there whatever the commands say.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import LegionellaConfig

__all__ = ["hold_mask_at", "legionella_hold_mask", "legionella_starts_utc", "minute_of_week"]


def legionella_starts_utc(
    config: LegionellaConfig, tz: ZoneInfo, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DatetimeIndex:
    """Scheduled program starts in [start, end), UTC (none when the program is disabled)."""
    if not config.enabled or end <= start:
        return pd.DatetimeIndex([], tz="UTC")
    # local calendar days as naive dates: a day is not always 24 hours
    first = start.tz_convert(tz).tz_localize(None).normalize() - pd.Timedelta(days=1)
    last = end.tz_convert(tz).tz_localize(None).normalize() + pd.Timedelta(days=1)
    days = pd.date_range(first, last, freq="D")
    days = days[days.day_of_week == config.weekday]
    offset = pd.Timedelta(hours=config.start_local.hour, minutes=config.start_local.minute)
    local = (days + offset).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    starts = local.tz_convert("UTC")
    return starts[(starts >= start) & (starts < end)]


_MINUTES_PER_WEEK = 7 * 24 * 60
#: 1970-01-01, where the wall-clock minutes count from, was a Thursday: 3 days after a Monday
_EPOCH_MINUTE_OF_WEEK = 3 * 24 * 60


def minute_of_week(index: pd.DatetimeIndex, tz: ZoneInfo) -> npt.NDArray[np.int64]:
    """Minutes since Monday 00:00 on the local wall clock, per timestamp of `index`.

    From the wall-clock minutes since the epoch in one array operation: reading the weekday,
    hour and minute fields took pandas four times as long, on every plan's coefficients."""
    wall = index.tz_convert(tz).tz_localize(None).to_numpy().astype("datetime64[m]")
    return np.asarray(
        (wall.astype(np.int64) + _EPOCH_MINUTE_OF_WEEK) % _MINUTES_PER_WEEK, dtype=np.int64
    )


def legionella_hold_mask(
    config: LegionellaConfig, tz: ZoneInfo, index: pd.DatetimeIndex
) -> npt.NDArray[np.bool_]:
    """Which slots of `index` (UTC slot starts) lie in a program's hold, that is in
    [scheduled start, + hold_minutes), by the local wall clock (the schedule's own time)."""
    return hold_mask_at(config, minute_of_week(index, tz))


def hold_mask_at(
    config: LegionellaConfig, minutes_of_week: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """`legionella_hold_mask` from the local minutes of the week (`minute_of_week`), for callers
    that check several programs against the same slots."""
    if not config.enabled:
        return np.zeros(len(minutes_of_week), dtype=bool)
    start = config.weekday * 1440 + config.start_local.hour * 60 + config.start_local.minute
    return np.asarray((minutes_of_week - start) % _MINUTES_PER_WEEK < config.hold_minutes)
