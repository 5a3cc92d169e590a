from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy.timegrid import (
    align_to_slots,
    as_utc,
    floor_slot,
    local_day_bounds,
    local_day_slots,
    slot_grid,
)

BERLIN = "Europe/Berlin"


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Kolkata"])
def host_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run with a host time zone different from the site's: nothing may depend on it."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize(
    ("day", "slots", "first_utc"),
    [
        (dt.date(2026, 3, 29), 92, "2026-03-28T23:00:00+00:00"),
        (dt.date(2026, 10, 25), 100, "2026-10-24T22:00:00+00:00"),
        (dt.date(2026, 6, 1), 96, "2026-05-31T22:00:00+00:00"),
        (dt.date(2026, 12, 24), 96, "2026-12-23T23:00:00+00:00"),
    ],
)
def test_local_days_have_92_96_or_100_slots(
    host_zone: str, day: dt.date, slots: int, first_utc: str
) -> None:
    grid = local_day_slots(day, BERLIN)
    assert len(grid) == slots
    assert grid[0].isoformat() == first_utc
    assert str(grid.tz) == "UTC"
    start, end = local_day_bounds(day, BERLIN)
    assert end - start == pd.Timedelta(minutes=15 * slots)


def test_fall_back_day_repeats_local_two_oclock() -> None:
    local = local_day_slots(dt.date(2026, 10, 25), BERLIN).tz_convert(BERLIN)
    two_oclock = [t for t in local if t.hour == 2 and t.minute == 0]
    assert [t.utcoffset() for t in two_oclock] == [dt.timedelta(hours=2), dt.timedelta(hours=1)]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        as_utc(dt.datetime(2026, 1, 1))


def test_slot_grid_needs_boundaries() -> None:
    with pytest.raises(ValueError, match="not on a 15-minute boundary"):
        slot_grid(
            pd.Timestamp("2026-01-01 00:07", tz="UTC"), pd.Timestamp("2026-01-01 01:00", tz="UTC")
        )


@given(
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    )
)
def test_floor_slot_contains_the_time(moment: dt.datetime) -> None:
    start = floor_slot(moment)
    assert start <= pd.Timestamp(moment) < start + pd.Timedelta(minutes=15)
    assert start.minute % 15 == 0
    assert start.second == 0


def _hourly(values: list[float]) -> pd.Series:
    return pd.Series(
        values, index=pd.date_range("2026-03-29 00:00", periods=len(values), freq="h", tz="UTC")
    )


def test_hourly_power_is_repeated_and_energy_split() -> None:
    power = align_to_slots(_hourly([4.0, 8.0]), "power")
    assert power.tolist() == [4.0] * 4 + [8.0] * 4
    energy = align_to_slots(_hourly([4.0, 8.0]), "energy")
    assert energy.tolist() == [1.0] * 4 + [2.0] * 4


def test_state_is_interpolated_and_not_extrapolated() -> None:
    state = align_to_slots(_hourly([10.0, 14.0]), "state")
    assert state.tolist()[:5] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert np.isnan(state.iloc[-1])


def test_finer_series_are_averaged_or_summed() -> None:
    index = pd.date_range("2026-01-01", periods=30, freq="1min", tz="UTC")
    series = pd.Series(np.arange(30, dtype=float), index=index)
    assert align_to_slots(series, "power").tolist() == [7.0, 22.0]
    assert align_to_slots(series, "energy").tolist() == [105.0, 330.0]


def test_gap_in_hourly_source_stays_a_gap() -> None:
    index = pd.DatetimeIndex(
        ["2026-01-01 00:00", "2026-01-01 01:00", "2026-01-01 04:00", "2026-01-01 05:00"], tz="UTC"
    )
    aligned = align_to_slots(pd.Series([1.0, 2.0, 3.0, 4.0], index=index), "power")
    assert aligned.iloc[:8].tolist() == [1.0] * 4 + [2.0] * 4
    assert aligned.iloc[8:16].isna().all()
    assert aligned.iloc[16:].tolist() == [3.0] * 4 + [4.0] * 4


@given(st.lists(st.floats(min_value=0, max_value=1e4), min_size=1, max_size=48))
def test_energy_is_conserved_when_splitting(values: list[float]) -> None:
    aligned = align_to_slots(_hourly(values), "energy")
    assert aligned.sum() == pytest.approx(sum(values), rel=1e-9, abs=1e-9)
