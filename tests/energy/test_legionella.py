"""The anti-legionella schedule: one definition for the plant's program and the plan's hold."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from energy.config import LegionellaConfig, TankConfig
from energy.legionella import legionella_hold_mask, legionella_starts_utc, minute_of_week

BERLIN = ZoneInfo("Europe/Berlin")


def test_weekly_at_the_local_time_across_daylight_saving() -> None:
    config = LegionellaConfig()  # Sunday 13:00 local
    starts = legionella_starts_utc(
        config, BERLIN, pd.Timestamp("2026-03-20", tz="UTC"), pd.Timestamp("2026-04-06", tz="UTC")
    )
    # 22 March CET (UTC+1), 29 March is the change to CEST (UTC+2), 5 April CEST
    assert list(starts) == [
        pd.Timestamp("2026-03-22T12:00Z"),
        pd.Timestamp("2026-03-29T11:00Z"),
        pd.Timestamp("2026-04-05T11:00Z"),
    ]
    assert (
        len(legionella_starts_utc(LegionellaConfig(enabled=False), BERLIN, starts[0], starts[-1]))
        == 0
    )


@given(
    offset_slots=st.integers(0, 6 * 96),
    n_slots=st.integers(1, 3 * 96),
    weekday=st.integers(0, 6),
    start_quarter=st.integers(0, 95),
    hold_minutes=st.sampled_from([15, 60, 90, 120]),
)
@settings(max_examples=80, deadline=None)
def test_the_hold_mask_is_the_hold_after_each_start(
    offset_slots: int, n_slots: int, weekday: int, start_quarter: int, hold_minutes: int
) -> None:
    begin_min = 15 * start_quarter
    assume(not (begin_min < 180 and begin_min + hold_minutes > 120))  # refused by the config
    config = LegionellaConfig(
        weekday=weekday,
        start_local=dt.time(start_quarter // 4, 15 * (start_quarter % 4)),
        hold_minutes=hold_minutes,
    )
    # the weeks around the October clock change
    first = pd.Timestamp("2026-10-20T00:00Z") + pd.Timedelta(minutes=15 * offset_slots)
    index = pd.date_range(first, periods=n_slots, freq="15min")
    mask = legionella_hold_mask(config, BERLIN, index)
    hold = pd.Timedelta(minutes=hold_minutes)
    starts = legionella_starts_utc(config, BERLIN, index[0] - hold, index[-1] + hold)
    expected = np.zeros(n_slots, dtype=bool)
    for begin in starts:
        expected |= np.asarray((index >= begin) & (index < begin + hold))
    np.testing.assert_array_equal(mask, expected)


def test_bad_programs_are_named() -> None:
    with pytest.raises(ValidationError, match=r"legionella\.temp_c"):
        TankConfig(
            volume_l=300, temp_min_c=40, temp_max_c=55, loss_w_per_k=2,
            legionella=LegionellaConfig(temp_c=60),
        )  # fmt: skip
    with pytest.raises(ValidationError, match="quarter-hour"):
        LegionellaConfig(start_local=dt.time(13, 10))
    with pytest.raises(ValidationError, match="clocks change"):
        LegionellaConfig(start_local=dt.time(1, 30), hold_minutes=60)
    # a tank that cannot reach the temperature is fine without the program
    TankConfig(
        volume_l=300, temp_min_c=40, temp_max_c=55, loss_w_per_k=2,
        legionella=LegionellaConfig(enabled=False),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1)),
    periods=st.integers(1, 400),
    step_minutes=st.sampled_from([1, 15, 60, 97]),
    zone=st.sampled_from(["Europe/Berlin", "UTC", "America/St_Johns", "Australia/Lord_Howe"]),
    unit=st.sampled_from(["ns", "us", "s"]),
)
def test_minute_of_week_is_the_local_weekday_hour_and_minute(
    start: dt.datetime, periods: int, step_minutes: int, zone: str, unit: str
) -> None:
    """Across daylight saving changes (half-hour ones too) and timestamp resolutions."""
    tz = ZoneInfo(zone)
    index = pd.date_range(
        pd.Timestamp(start.replace(microsecond=0), tz="UTC"),
        periods=periods,
        freq=f"{step_minutes}min",
        unit=unit,
    )
    local = index.tz_convert(tz)
    expected = local.day_of_week * 1440 + local.hour * 60 + local.minute
    assert minute_of_week(index, tz).tolist() == expected.tolist()
