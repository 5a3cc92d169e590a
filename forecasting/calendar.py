"""Calendar of slots in the site's local time: hour, weekday, day type, public holidays, season.

Computed per timestamp after conversion to local time, so DST days (92 or 100 slots) are handled
without special cases. Public holidays come from the `holidays` package for the configured country
and state (default Germany, North Rhine-Westphalia).
"""

from __future__ import annotations

import datetime as dt
import functools

import holidays
import numpy as np
import pandas as pd

from energy.config import LocationConfig

__all__ = ["calendar_features", "holiday_dates"]


@functools.lru_cache(maxsize=16)
def holiday_dates(
    country: str, subdivision: str | None, years: tuple[int, ...]
) -> frozenset[dt.date]:
    """Public holidays of a country (and state) in the given years (cached)."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=list(years)))


def calendar_features(index: pd.DatetimeIndex, location: LocationConfig) -> pd.DataFrame:
    """Calendar of each slot in the site's local time (index: UTC slot starts)."""
    local = index.tz_convert(location.timezone)
    years = tuple(range(int(local.year.min()) - 1, int(local.year.max()) + 2)) if len(local) else ()
    public = holiday_dates(location.holidays_country, location.holidays_subdivision, years)
    dates = local.date
    is_holiday = np.fromiter((d in public for d in dates), dtype=bool, count=len(dates))
    weekday = np.asarray(local.day_of_week)
    day_type = np.where(is_holiday | (weekday == 6), 2, np.where(weekday == 5, 1, 0))
    angle = 2 * np.pi * (np.asarray(local.day_of_year) - 1) / 365.25
    return pd.DataFrame(
        {
            "hour_local": np.asarray(local.hour) + np.asarray(local.minute) / 60.0,
            "weekday": weekday,
            "day_type": day_type,
            "is_holiday": is_holiday.astype(float),
            "season_sin": np.sin(angle),
            "season_cos": np.cos(angle),
        },
        index=index,
    )
