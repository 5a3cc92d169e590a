"""The DWD test reference year, mapped onto calendar years."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def _hourly(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(frame.index.hour).mean()


def test_leap_year_repeats_28_february():
    leap = load_try_weather(ESSEN, 2028)
    assert len(leap) == 366 * 96
    columns = ["temp_outdoor_c", "ghi_w_per_m2", "dhi_w_per_m2"]
    # the quarter-hour split of irradiance follows the sun of each day; hourly means are the data
    feb_28 = _hourly(leap.loc["2028-02-28", columns])
    feb_29 = _hourly(leap.loc["2028-02-29", columns])
    # MEZ day = UTC 23:00 to 23:00: compare away from the seams at both ends
    np.testing.assert_allclose(feb_29.iloc[2:21], feb_28.iloc[2:21])
    np.testing.assert_allclose(
        _hourly(leap.loc["2028-03-05", columns]),
        _hourly(load_try_weather(ESSEN, 2026).loc["2026-03-05", columns]),
    )


def test_hourly_irradiance_energy_preserved(weather_2026, typical):
    # 21 June 10:00-11:00 UTC is 11:00-12:00 MEZ: the row with MM=6, DD=21, HH=12
    row = typical.hourly.query("MM == 6 and DD == 21 and HH == 12").iloc[0]
    hour = weather_2026.loc["2026-06-21 10:00":"2026-06-21 10:45"]
    assert hour["ghi_w_per_m2"].mean() == pytest.approx(row["B"] + row["D"])
    assert hour["dhi_w_per_m2"].mean() == pytest.approx(row["D"])


def test_year_wraps_to_first_typical_hour(weather_2026, typical):
    # the last UTC hour of 2026 is 00:00-01:00 MEZ on 1 January: the file's first row
    first = typical.hourly.iloc[0]
    last_hour = weather_2026.loc["2026-12-31 23:00":]
    assert last_hour["ghi_w_per_m2"].mean() == pytest.approx(first["B"] + first["D"])


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
