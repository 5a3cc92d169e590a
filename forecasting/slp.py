"""BDEW standard load profiles of households, evaluated on UTC slots in the site's local time.

- H25 (BDEW 2025, dynamised) via `demandlib.bdew.H25`: kW per 1 GWh/a;
- H0 (the classic 1999 household profile) from demandlib's `selp_series.csv` table by season
  (winter 1 Nov-20 Mar, summer 15 May-14 Sep, transition otherwise), weekday (public holidays count
  as Sunday) and quarter hour, with the BDEW dynamisation polynomial of the day of year. demandlib's
  own `ElecSlp` cannot be used under pandas 3 (it turns warnings into errors), hence this lookup.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
from demandlib.bdew import H25

from energy.config import LocationConfig
from energy.timegrid import SLOT
from forecasting.calendar import holiday_dates

__all__ = ["h0_profile", "h25_profile", "quiet_demandlib"]


@contextlib.contextmanager
def quiet_demandlib() -> Iterator[None]:
    """Silence pandas 3 deprecation warnings raised inside demandlib 0.2.2 (inplace=, .weekday);
    they are the library's, not ours, and would drown the logs of every backtest."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module="demandlib")
        yield


@functools.lru_cache(maxsize=4)
def _h0_table() -> pd.DataFrame:
    """demandlib's classic BDEW table: h0 by (period, weekday 1..7, slot of day)."""
    import demandlib.bdew as bdew

    path = os.path.join(os.path.dirname(bdew.__file__), "bdew_data", "selp_series.csv")
    table = pd.read_csv(path, usecols=["period", "weekday", "h0"])
    table["slot"] = np.tile(np.arange(96), len(table) // 96)
    return table.set_index(["period", "weekday", "slot"])["h0"]


def _h0_period(local: pd.DatetimeIndex) -> np.ndarray:
    md = np.asarray(local.month) * 100 + np.asarray(local.day)
    winter = (md >= 1101) | (md <= 320)
    summer = (md >= 515) & (md <= 914)
    return np.where(winter, "winter", np.where(summer, "summer", "transition"))


def _h0_dynamisation(day_of_year: np.ndarray) -> np.ndarray:
    t = day_of_year.astype(float)
    return -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24


def h0_profile(valid: pd.DatetimeIndex, location: LocationConfig) -> np.ndarray:
    """Dynamised H0, relative values with mean one over a year (local time, holidays as Sunday)."""
    raw = _h0_raw(valid, location)
    year_start = pd.Timestamp("2025-01-01T00:00Z")
    reference = pd.date_range(year_start, periods=35040, freq=SLOT)
    return raw / _h0_raw(reference, location).mean()


def _h0_raw(valid: pd.DatetimeIndex, location: LocationConfig) -> np.ndarray:
    local = valid.tz_convert(location.timezone)
    years = tuple(range(int(local.year.min()) - 1, int(local.year.max()) + 2))
    public = holiday_dates(location.holidays_country, location.holidays_subdivision, years)
    weekday = np.asarray(local.day_of_week) + 1
    holiday = np.fromiter((d in public for d in local.date), dtype=bool, count=len(local))
    weekday = np.where(holiday, 7, weekday)
    slot = np.asarray(local.hour) * 4 + np.asarray(local.minute) // 15
    table = _h0_table()
    keys = pd.MultiIndex.from_arrays([_h0_period(local), weekday, slot])
    values = table.reindex(keys).to_numpy(dtype=float)
    return values * _h0_dynamisation(np.asarray(local.day_of_year))


def h25_profile(valid: pd.DatetimeIndex, location: LocationConfig) -> np.ndarray:
    """H25 (demandlib) in kW per 1 GWh/a, evaluated in local time with public holidays.

    demandlib reads its profile table on every call, so the profile is evaluated once per UTC
    year (cached) and looked up; valid may be any set of slot starts.
    """
    if len(valid) == 0:
        return np.array([], dtype=float)
    years = range(int(valid.year.min()), int(valid.year.max()) + 1)
    table = pd.concat([_h25_year(year, location) for year in years])
    return table.reindex(valid).to_numpy(dtype=float)


@functools.lru_cache(maxsize=8)
def _h25_year(year: int, location: LocationConfig) -> pd.Series:
    utc = pd.date_range(
        pd.Timestamp(year=year, month=1, day=1, tz="UTC"),
        pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"),
        freq=SLOT,
        inclusive="left",
    )
    local = pd.DatetimeIndex(utc.tz_convert(location.timezone), freq="15min")
    years = tuple(range(year - 1, year + 2))
    public = holiday_dates(location.holidays_country, location.holidays_subdivision, years)
    with quiet_demandlib():
        values = np.asarray(H25(local, holidays=sorted(public)), dtype=float)
    return pd.Series(values, index=utc)
