"""The DWD test reference year, mapped onto calendar years."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from energy.physics.weather import load_try_weather, read_try_file, try_file_path

ESSEN = 5


@pytest.fixture(scope="module")
def typical():
    return read_try_file(try_file_path(ESSEN), ESSEN)


@pytest.fixture(scope="module")
def weather_2026():
    return load_try_weather(ESSEN, 2026)


def test_station_parsed_from_header(typical):
    assert typical.station.name == "Essen"
    assert typical.station.latitude_deg == pytest.approx(51.4)
    assert typical.station.longitude_deg == pytest.approx(6 + 58 / 60)


def test_full_year_on_quarter_hours(weather_2026):
    assert len(weather_2026) == 365 * 96
    assert weather_2026.index[0] == pd.Timestamp("2026-01-01", tz="UTC")
    assert weather_2026.index[-1] == pd.Timestamp("2026-12-31 23:45", tz="UTC")
    assert list(weather_2026.columns) == [
        "temp_outdoor_c",
        "ghi_w_per_m2",
        "dhi_w_per_m2",
        "dni_w_per_m2",
        "wind_speed_m_per_s",
    ]
    assert not weather_2026.isna().any().any()


def _interval_means(frame: pd.DataFrame, day: str) -> np.ndarray:
    """Means over the TRY's hourly intervals (xx:30-xx:30 UTC) from 00:30 UTC of day on."""
    first = pd.Timestamp(day, tz="UTC") + pd.Timedelta(minutes=30)
    window = frame.loc[first : first + pd.Timedelta(minutes=23 * 60 - 15)]
    return window.to_numpy().reshape(23, 4, -1).mean(axis=1)


def test_leap_year_repeats_28_february():
    leap = load_try_weather(ESSEN, 2028)
    assert len(leap) == 366 * 96
    irradiance = ["ghi_w_per_m2", "dhi_w_per_m2"]
    # the quarter-hour split follows the sun of each day; the interval means are the data
    feb_28 = _interval_means(leap[irradiance], "2028-02-28")
    feb_29 = _interval_means(leap[irradiance], "2028-02-29")
    np.testing.assert_allclose(feb_29, feb_28)
    temps = leap["temp_outdoor_c"]
    # readings at MEZ hour ends: compare away from the seams of the MEZ day (23:00 UTC)
    np.testing.assert_allclose(
        temps.loc["2028-02-29 02:00":"2028-02-29 20:45"].to_numpy(),
        temps.loc["2028-02-28 02:00":"2028-02-28 20:45"].to_numpy(),
    )
    common = load_try_weather(ESSEN, 2026)
    np.testing.assert_allclose(
        _interval_means(leap[irradiance], "2028-03-05"),
        _interval_means(common[irradiance], "2026-03-05"),
    )


def test_hourly_irradiance_energy_preserved(weather_2026, typical):
    # the row MM=6, DD=21, HH=12 covers 11:30-12:30 MEZ (centred on HH), i.e. 10:30-11:30 UTC
    row = typical.hourly.query("MM == 6 and DD == 21 and HH == 12").iloc[0]
    hour = weather_2026.loc["2026-06-21 10:30":"2026-06-21 11:15"]
    assert len(hour) == 4
    assert hour["ghi_w_per_m2"].mean() == pytest.approx(row["B"] + row["D"])
    assert hour["dhi_w_per_m2"].mean() == pytest.approx(row["D"])


def test_year_wraps_to_first_typical_hour(weather_2026, typical):
    # 1 January 00:00-00:30 UTC lies in the file's first row (HH=1: 00:30-01:30 MEZ); the last
    # two slots of the year take the same row (the typical year wraps around)
    first = typical.hourly.iloc[0]
    assert first["B"] + first["D"] == 0  # night: the wrap is seamless
    end = weather_2026.loc["2026-12-31 23:30":]
    start = weather_2026.loc["2026-01-01 00:00":"2026-01-01 00:15"]
    assert (end["ghi_w_per_m2"] == 0).all()
    assert (start["ghi_w_per_m2"] == 0).all()
    temp_jan_1 = typical.hourly.iloc[0]["t"]
    assert weather_2026["temp_outdoor_c"].iloc[-1] == pytest.approx(temp_jan_1, abs=2.0)


@pytest.mark.parametrize("month", [2, 5, 8, 11])
def test_irradiance_is_centred_on_solar_noon(weather_2026, typical, month):
    # energy-weighted time of day of GHI against solar noon (equation of time included): the
    # hour-ending reading of HH would put it about half an hour early in every month
    month_data = weather_2026[weather_2026.index.month == month]
    ghi = month_data["ghi_w_per_m2"].to_numpy()
    index = month_data.index
    hour = (index.hour + index.minute / 60 + 7.5 / 60).to_numpy()
    eot_min = pvlib.solarposition.equation_of_time_spencer71(index.day_of_year.to_numpy())
    noon_utc = 12 - typical.station.longitude_deg / 15 - eot_min / 60
    offset_h = (ghi * (hour - noon_utc)).sum() / ghi.sum()
    assert abs(offset_h) < 0.2


def test_no_sun_at_night_and_plausible_climate(weather_2026):
    midnight = weather_2026[weather_2026.index.hour == 0]
    assert (midnight[["ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2"]] == 0).all().all()
    assert weather_2026["ghi_w_per_m2"].sum() * 0.25 / 1000 == pytest.approx(960, rel=0.1)
    assert 8.0 < weather_2026["temp_outdoor_c"].mean() < 12.5
    july = weather_2026.loc["2026-07"]["temp_outdoor_c"].mean()
    january = weather_2026.loc["2026-01"]["temp_outdoor_c"].mean()
    assert july > january + 10


def test_result_is_a_copy():
    first = load_try_weather(ESSEN, 2026)
    first["temp_outdoor_c"] = 99.0
    assert load_try_weather(ESSEN, 2026)["temp_outdoor_c"].max() < 40


def test_truncated_file_is_reported(tmp_path):
    source = try_file_path(ESSEN).read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "TRY_broken.dat"
    broken.write_text("\n".join(source[:-24]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"TRY_broken\.dat.*8760.*found 8736"):
        read_try_file(broken)


def test_unknown_region_rejected():
    with pytest.raises(ValueError, match=r"1\.\.15"):
        load_try_weather(16, 2026)
