"""The 15-minute UTC slot grid, local-day boundaries and alignment of mixed-resolution series.

Inside the platform every time is a timezone-aware UTC timestamp. A slot labelled t covers
[t, t + 15 min). Local time (the site's zone, Europe/Berlin by default) is used only for day
boundaries, tariffs and display: a local day has 92, 96 or 100 slots around the DST changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = [
    "SLOT",
    "SLOT_HOURS",
    "SLOT_MINUTES",
    "align_to_slots",
    "as_utc",
    "ceil_slot",
    "floor_slot",
    "local_day_bounds",
    "local_day_slots",
    "slot_grid",
]

SLOT_MINUTES = 15
SLOT = dt.timedelta(minutes=SLOT_MINUTES)
SLOT_HOURS = SLOT_MINUTES / 60.0
UTC = dt.UTC


def as_utc(value: dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    """Return value as a UTC pd.Timestamp; a naive value is an error, never silently assumed UTC."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(
            f"naive timestamp {ts.isoformat()} has no time zone; expected a UTC offset"
        )
    return ts.tz_convert(UTC)


def floor_slot(value: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    """Start of the slot containing value."""
    return as_utc(value).floor(f"{SLOT_MINUTES}min")


def ceil_slot(value: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    """First slot start at or after value."""
    return as_utc(value).ceil(f"{SLOT_MINUTES}min")


def slot_grid(
    start: dt.datetime | pd.Timestamp, end: dt.datetime | pd.Timestamp
) -> pd.DatetimeIndex:
    """Slot starts in [start, end), UTC. start and end must lie on slot boundaries."""
    start_utc, end_utc = as_utc(start), as_utc(end)
    for name, ts in (("start", start_utc), ("end", end_utc)):
        if ts != ts.floor(f"{SLOT_MINUTES}min"):
            raise ValueError(f"{name} {ts.isoformat()} is not on a {SLOT_MINUTES}-minute boundary")
    return pd.date_range(
        start_utc, end_utc, freq=f"{SLOT_MINUTES}min", inclusive="left", name="slot_start"
    )


def local_day_bounds(day: dt.date, tz: str | ZoneInfo) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC start and end of the local calendar day `day` in zone tz (end exclusive)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    start = pd.Timestamp(dt.datetime.combine(day, dt.time(0), tzinfo=zone))
    end = pd.Timestamp(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone))
    return start.tz_convert(UTC), end.tz_convert(UTC)


def local_day_slots(day: dt.date, tz: str | ZoneInfo) -> pd.DatetimeIndex:
    """The slots of one local day: 96 normally, 92 on spring-forward and 100 on fall-back days."""
    return slot_grid(*local_day_bounds(day, tz))


def align_to_slots(
    series: pd.Series,
    kind: Literal["power", "energy", "state"],
    start: dt.datetime | pd.Timestamp | None = None,
    end: dt.datetime | pd.Timestamp | None = None,
) -> pd.Series:
    """Bring a series of any regular resolution (15 min, 60 min, ...) onto the 15-minute slot grid.

    The index holds interval starts, UTC-aware. `kind` says what a value means:
    - "power": an average over its interval (kW): coarser values are repeated, finer ones averaged;
    - "energy": an amount over its interval (kWh): coarser values are split evenly, finer ones summed;
    - "state": an instantaneous reading (degC, SoC): coarser values are interpolated in time, finer
      ones sampled at the slot start.
    Slots outside the data stay NaN; nothing is extrapolated.
    """
    if not isinstance(series.index, pd.DatetimeIndex) or series.index.tz is None:
        raise ValueError("align_to_slots needs a UTC-aware DatetimeIndex")
    if series.index.has_duplicates:
        raise ValueError("align_to_slots: the index has duplicate timestamps")
    data = series.sort_index().tz_convert(UTC).astype(float)
    if len(data) < 2:
        step = pd.Timedelta(SLOT)
    else:
        step = pd.Series(data.index[1:] - data.index[:-1]).min()
    lo = floor_slot(start) if start is not None else floor_slot(data.index[0])
    hi = ceil_slot(end) if end is not None else ceil_slot(data.index[-1] + step)
    grid = slot_grid(lo, hi)
    slot = pd.Timedelta(SLOT)
    if kind == "state":
        joined = data.reindex(data.index.union(grid)).interpolate(
            method="time", limit_area="inside"
        )
        return joined.reindex(grid).rename(series.name)
    if step >= slot:
        per_slot = data * (slot / step) if kind == "energy" else data
        # each value holds for its own interval only: gaps in the source stay gaps
        covered = per_slot.reindex(grid, method="ffill", tolerance=step - pd.Timedelta(seconds=1))
        return covered.rename(series.name)
    grouped = data.groupby(data.index.floor(f"{SLOT_MINUTES}min"))
    result = grouped.sum() if kind == "energy" else grouped.mean()
    return result.reindex(grid).rename(series.name)
