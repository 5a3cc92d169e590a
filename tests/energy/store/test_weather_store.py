"""Issued weather forecasts in the store: stored with their issue time, found again when they
cover a horizon."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from energy.store import Store
from energy.store.weather import read_stored_weather, weather_target, write_weather_forecast
from energy.timegrid import SLOT, slot_grid

SITE = "klimaviertel-sodingen"
T0 = pd.Timestamp("2026-12-05T06:00Z")


def _weather(start: pd.Timestamp, slots: int, temp_c: float) -> pd.DataFrame:
    grid = slot_grid(start, start + slots * SLOT)
    return pd.DataFrame(
        {"temp_outdoor_c": np.full(slots, temp_c), "ghi_w_per_m2": np.arange(slots, dtype=float)},
        index=grid,
    )


def test_the_newest_issue_covering_the_horizon_is_returned(store: Store) -> None:
    early = T0.to_pydatetime()
    later = early + dt.timedelta(hours=3)
    write_weather_forecast(store, SITE, "bright-sky", early, _weather(T0, 96, 1.5))
    # issued later but reaching only 4 hours ahead: does not cover a 12-hour horizon
    write_weather_forecast(
        store, SITE, "bright-sky", later, _weather(T0 + pd.Timedelta(hours=3), 16, 9.0)
    )
    grid = slot_grid(T0 + pd.Timedelta(hours=4), T0 + pd.Timedelta(hours=16))
    found = read_stored_weather(store, SITE, later + dt.timedelta(hours=1), grid)
    assert found is not None
    assert found.issue_time == early
    assert found.source == "bright-sky"
    assert list(found.frame.index) == list(grid)
    assert (found.frame["temp_outdoor_c"] == 1.5).all()
    assert np.array_equal(found.frame["ghi_w_per_m2"].to_numpy(), np.arange(16, 64, dtype=float))
    # within its reach, the later issue wins
    short = slot_grid(T0 + pd.Timedelta(hours=4), T0 + pd.Timedelta(hours=6))
    newest = read_stored_weather(store, SITE, later, short)
    assert newest is not None
    assert newest.issue_time == later


def test_nothing_issued_after_the_asking_time_is_used(store: Store) -> None:
    write_weather_forecast(store, SITE, "open-meteo", T0.to_pydatetime(), _weather(T0, 8, 2.0))
    grid = slot_grid(T0, T0 + 4 * SLOT)
    assert read_stored_weather(store, SITE, (T0 - SLOT).to_pydatetime(), grid) is None
    assert read_stored_weather(store, "another-site", T0.to_pydatetime(), grid) is None


def test_gaps_are_not_stored_as_values(store: Store) -> None:
    frame = _weather(T0, 8, 2.0)
    frame.iloc[3, 1] = np.nan
    rows = write_weather_forecast(store, SITE, "bright-sky", T0.to_pydatetime(), frame)
    assert rows == 15
    assert weather_target(SITE, "ghi_w_per_m2") == f"{SITE}:weather:ghi_w_per_m2"
    assert read_stored_weather(store, SITE, T0.to_pydatetime(), frame.index) is None
