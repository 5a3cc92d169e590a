"""District profiles: the slot-average exogenous series the simulator and forecasting share."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.physics.profiles import ProfileModel, district_profiles
from energy.timegrid import local_day_bounds

YEAR_START = pd.Timestamp("2026-01-01", tz="UTC")
YEAR_END = pd.Timestamp("2027-01-01", tz="UTC")


@pytest.fixture(scope="module")
def year(site):
    return district_profiles(site, YEAR_START, YEAR_END, seed=0)


def test_columns_and_grid(site, year):
    assert len(year) == 365 * 96
    assert year.index.tz is not None
    assert str(year.index.tz) == "UTC"
    assert (year.index[1:] - year.index[:-1] == pd.Timedelta(minutes=15)).all()
    for house in site.houses:
        for quantity in ("load_kw", "heat_demand_kw", "space_heat_kw", "hot_water_kw"):
            assert f"{house.id}:{quantity}" in year.columns
        assert f"{house.id}.pv:pv_kw" in year.columns
    for column in ("temp_outdoor_c", "ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2"):
        assert column in year.columns
    assert not year.isna().any().any()
    power = year.drop(columns=["temp_outdoor_c"])
    assert (power >= 0).all().all()


def test_annual_sums_match_config(site, year):
    energy_kwh = year.sum() * 0.25
    for house in site.houses:
        assert energy_kwh[f"{house.id}:load_kw"] == pytest.approx(
            house.annual_electricity_kwh, rel=0.01
        )
        assert energy_kwh[f"{house.id}:space_heat_kw"] == pytest.approx(
            house.annual_space_heat_kwh, rel=0.01
        )
        assert energy_kwh[f"{house.id}:hot_water_kw"] == pytest.approx(
            house.annual_hot_water_kwh, rel=0.01
        )
        np.testing.assert_allclose(
            year[f"{house.id}:heat_demand_kw"],
            year[f"{house.id}:space_heat_kw"] + year[f"{house.id}:hot_water_kw"],
        )


def test_pv_zero_at_night_and_plausible_yield(site, year):
    night = year["ghi_w_per_m2"] == 0
    assert night.mean() > 0.4
    for house in site.houses:
        pv = year[f"{house.id}.pv:pv_kw"]
        assert (pv[night] == 0).all()
        assert pv.max() <= house.pv.peak_kw * house.pv.inverter_efficiency_frac + 1e-9
        yield_kwh_per_kwp = pv.sum() * 0.25 / house.pv.peak_kw
        if house.pv.azimuth_deg == 180:
            assert 800 <= yield_kwh_per_kwp <= 1000, house.id
        else:
            assert 600 <= yield_kwh_per_kwp <= 1000, house.id


def test_space_heat_follows_the_season(site, year):
    for house in site.houses:
        space = year[f"{house.id}:space_heat_kw"]
        summer = space.loc["2026-06-15":"2026-08-31"].sum() * 0.25
        january = space.loc["2026-01"].sum() * 0.25
        assert summer < 0.02 * house.annual_space_heat_kwh
        assert january > 0.12 * house.annual_space_heat_kwh
        assert (space.loc["2026-07"] == 0).mean() > 0.8
        hot_water_days = year[f"{house.id}:hot_water_kw"].resample("D").sum()
        assert (hot_water_days > 0).all()


def test_deterministic_for_a_seed(site):
    start, end = pd.Timestamp("2026-02-01", tz="UTC"), pd.Timestamp("2026-02-03", tz="UTC")
    first = district_profiles(site, start, end, seed=7)
    again = district_profiles(site, start, end, seed=7)
    other = district_profiles(site, start, end, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["house-01:load_kw"], other["house-01:load_kw"])
    weather = ["temp_outdoor_c", "ghi_w_per_m2"]
    pd.testing.assert_frame_equal(first[weather], other[weather])


def test_houses_differ(site, year):
    january = year.loc["2026-01"]
    shapes = [january[f"{h.id}:load_kw"] / h.annual_electricity_kwh for h in site.houses]
    assert not np.allclose(shapes[0], shapes[1], rtol=0.05)


@pytest.mark.parametrize(
    ("day", "slots"),
    [(dt.date(2026, 3, 29), 92), (dt.date(2026, 10, 25), 100), (dt.date(2026, 6, 1), 96)],
)
def test_local_days_have_their_slot_counts(site, day, slots):
    start, end = local_day_bounds(day, site.tz)
    frame = district_profiles(site, start, end)
    assert len(frame) == slots


def test_window_spanning_new_year(site, year):
    start, end = (
        pd.Timestamp("2026-12-31 20:00", tz="UTC"),
        pd.Timestamp("2027-01-01 04:00", tz="UTC"),
    )
    frame = district_profiles(site, start, end)
    assert len(frame) == 32
    pd.testing.assert_frame_equal(frame.loc[:"2026-12-31 23:45"], year.loc["2026-12-31 20:00":])


@settings(max_examples=15, deadline=None)
@given(first=st.integers(0, 365 * 96 - 2), length=st.integers(1, 3 * 96))
def test_any_window_is_a_slice_of_the_year(site, year, first, length):
    start = YEAR_START + pd.Timedelta(minutes=15 * first)
    end = min(start + pd.Timedelta(minutes=15 * length), YEAR_END)
    frame = district_profiles(site, start, end)
    pd.testing.assert_frame_equal(
        frame, year.loc[start : end - pd.Timedelta(minutes=15)], check_freq=False
    )


def test_default_households_are_behavioural_not_the_standard_profile(site, year):
    h25 = district_profiles(site, YEAR_START, YEAR_END, model=ProfileModel(household_load="h25"))
    loads = year.filter(like=":load_kw").sum(axis=1)
    standard = h25.filter(like=":load_kw").sum(axis=1)
    assert loads.sum() == pytest.approx(standard.sum(), rel=1e-9)
    assert np.abs(loads - standard).mean() > 0.2 * loads.mean()


def test_public_holiday_looks_like_a_sunday(site):
    flat = ProfileModel(
        household_load="h25", load_shift_max_slots=0, load_day_sigma=0.0, load_slot_sigma=0.0
    )
    frame = district_profiles(site, YEAR_START, YEAR_END, model=flat)
    load = frame["house-01:load_kw"].tz_convert(site.tz)
    # Corpus Christi (Thursday 4 June 2026) is a holiday in North Rhine-Westphalia only
    holiday = load.loc["2026-06-04"].to_numpy()
    sunday = load.loc["2026-06-07"].to_numpy()
    wednesday = load.loc["2026-06-03"].to_numpy()
    assert np.allclose(holiday / holiday.mean(), sunday / sunday.mean(), atol=0.01)
    assert not np.allclose(holiday / holiday.mean(), wednesday / wednesday.mean(), atol=0.05)


def test_rejects_empty_and_unaligned_windows(site):
    with pytest.raises(ValueError, match="empty"):
        district_profiles(site, YEAR_START, YEAR_START)
    with pytest.raises(ValueError, match="15-minute boundary"):
        district_profiles(site, YEAR_START + pd.Timedelta(minutes=5), YEAR_END)
