"""Data loaders: meter CSV exports and SimBench profiles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data import DataError, read_meter_csv, simbench_profile

DATA = Path(__file__).parent / "data"


def test_synload_extract_reads_on_the_utc_grid():
    series = read_meter_csv(DATA / "synload_family_2021-01.csv", "household_kw")
    assert str(series.index.tz) == "UTC"
    assert series.index[0] == pd.Timestamp("2021-01-04T00:00Z")
    assert len(series) == 42 * 96
    assert series.notna().all()


def test_hourly_energy_becomes_average_power(tmp_path):
    path = tmp_path / "meter.csv"
    path.write_text(
        "time,kwh\n2026-10-25T01:00:00+02:00,2.0\n2026-10-25T02:00:00+02:00,1.0\n"
        "2026-10-25T02:00:00+01:00,4.0\n"
    )
    series = read_meter_csv(path, "kwh", values="energy")
    assert len(series) == 12
    assert np.allclose(series.to_numpy(), [2.0] * 4 + [1.0] * 4 + [4.0] * 4)
    assert series.index[4] == pd.Timestamp("2026-10-25T00:00Z")


def test_meter_csv_problems_are_named(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("time,kw\n2026-01-01 00:00,1\n2026-01-01 00:15,1\n")
    with pytest.raises(DataError, match="no UTC offset"):
        read_meter_csv(path, "kw")
    path.write_text("time,kw\n2026-01-01T00:00Z,1\n2026-01-01T00:05Z,1\n")
    with pytest.raises(DataError, match="15-minute or hourly"):
        read_meter_csv(path, "kw")
    with pytest.raises(DataError, match="no column 'kwh'"):
        read_meter_csv(path, "kwh")


def test_simbench_file_is_converted_from_local_time_across_fall_back():
    series = simbench_profile("H0-A_pload", path=DATA / "simbench_h0a_2016-10-29_31.csv")
    assert len(series) == 96 + 100 + 96
    steps = series.index[1:] - series.index[:-1]
    assert (steps == pd.Timedelta(minutes=15)).all()
    assert series.index[0] == pd.Timestamp("2016-10-28T22:00Z")
    assert series.index[-1] == pd.Timestamp("2016-10-31T22:45Z")
    # 01:45 CEST is 23:45 UTC; the repeated hour 02:xx is first CEST, then CET
    assert series[pd.Timestamp("2016-10-29T23:45Z")] == pytest.approx(0.030899)
    assert series[pd.Timestamp("2016-10-30T00:15Z")] == pytest.approx(0.046348)
    assert series[pd.Timestamp("2016-10-30T01:15Z")] == pytest.approx(0.046348)


def test_simbench_installed_household_year():
    if importlib.util.find_spec("simbench") is None:
        pytest.skip("SimBench not installed: optional, not a dependency of the platform")
    series = simbench_profile("H0-A_pload")
    assert len(series) == 366 * 96
    steps = series.index[1:] - series.index[:-1]
    assert (steps == pd.Timedelta(minutes=15)).all()
    assert series.index[0] == pd.Timestamp("2015-12-31T23:00Z")
    assert 0 < series.max() <= 1.0
