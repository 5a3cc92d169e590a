"""Baselines: what each one looks at, and that it uses only what is known at issue time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.timegrid import SLOT
from forecasting.baselines import (
    BdewElectricProfile,
    BdewHeatProfile,
    Persistence,
    SeasonalNaive,
    SmartPersistence,
    make_baselines,
)
from forecasting.slp import h0_profile, h25_profile
from forecasting.targets import TargetKind, site_targets


@pytest.fixture(scope="module")
def targets(site):
    return {t.name: t for t in site_targets(site)}


def _ramp(start: str, days: int) -> pd.Series:
    index = pd.date_range(start, periods=96 * days, freq="15min")
    return pd.Series(np.arange(len(index), dtype=float), index=index)


def test_persistence_takes_the_newest_known_day(site, targets):
    history = _ramp("2026-01-01T00:00Z", 20)
    issue = pd.Timestamp("2026-01-10T11:00Z")
    valid = pd.date_range(issue, issue + 144 * SLOT, freq=SLOT, inclusive="left")
    out = Persistence(targets["district:load_kw"], site.config.location).predict(
        issue, valid, history.loc[: issue - SLOT], pd.DataFrame()
    )
    lead_h = (valid - issue) / pd.Timedelta(hours=1)
    expected_days = np.where(lead_h < 24, 1, 2)
    source = valid - pd.to_timedelta(expected_days, unit="D")
    assert np.array_equal(out, history.reindex(source).to_numpy())
    assert (source < issue).all()


def test_seasonal_naive_is_last_week(site, targets):
    history = _ramp("2026-01-01T00:00Z", 20)
    issue = pd.Timestamp("2026-01-12T11:00Z")
    valid = pd.date_range(issue, periods=144, freq=SLOT)
    out = SeasonalNaive(targets["district:load_kw"], site.config.location).predict(
        issue, valid, history.loc[: issue - SLOT], pd.DataFrame()
    )
    assert np.array_equal(out, history.reindex(valid - pd.Timedelta(days=7)).to_numpy())


def test_bdew_profiles_are_scaled_to_the_annual_demand(site, targets):
    year = pd.date_range("2026-01-01T00:00Z", "2027-01-01T00:00Z", freq=SLOT, inclusive="left")
    target = targets["house-01:load_kw"]
    loc = site.config.location
    for profile in ("H25", "H0"):
        baseline = BdewElectricProfile(target, loc, profile=profile).fit(
            pd.Series(dtype=float), None
        )
        energy = baseline.predict(year[0], year, None, None).sum() * 0.25
        assert energy == pytest.approx(target.annual_kwh, rel=0.03)
    assert h25_profile(year[:96], loc).shape == (96,)
    assert np.all(h0_profile(year[:96], loc) > 0)


def test_bdew_heat_is_higher_when_colder_and_fits_the_training_energy(site, targets):
    target = targets["district:heat_demand_kw"]
    index = pd.date_range("2026-01-01T00:00Z", periods=96 * 21, freq="15min")
    temp = pd.Series(np.where(index.day < 11, -2.0, 12.0), index=index)
    weather = pd.DataFrame({"temp_outdoor_c": temp})
    history = pd.Series(10.0 - 0.5 * temp.to_numpy(), index=index)
    baseline = BdewHeatProfile(target, site.config.location).fit(history, weather)
    cold = baseline.predict(index[96 * 8], index[96 * 8 : 96 * 9], history, weather).mean()
    warm = baseline.predict(index[96 * 18], index[96 * 18 : 96 * 19], history, weather).mean()
    assert cold > warm > 0
    whole = baseline.predict(index[0], index, history, weather)
    assert whole.sum() == pytest.approx(history.sum(), rel=0.1)


def test_smart_persistence_carries_the_clear_sky_index(site, targets):
    target = targets["district:pv_kw"]
    baseline = SmartPersistence(target, site.config.location)
    index = pd.date_range("2026-06-01T00:00Z", periods=96 * 3, freq="15min")
    weather = pd.DataFrame({"temp_outdoor_c": np.full(len(index), 20.0)}, index=index)
    clear = baseline._clear_kw(index, weather["temp_outdoor_c"].to_numpy())
    history = pd.Series(0.6 * clear, index=index)
    issue = index[96 * 2]
    valid = index[96 * 2 :]
    out = baseline.predict(issue, valid, history.loc[: issue - SLOT], weather)
    assert out == pytest.approx(0.6 * clear[96 * 2 :], rel=1e-6, abs=1e-9)


def test_every_kind_gets_its_baselines(site, targets):
    names = {
        kind: [b.name for b in make_baselines(t, site.config.location)]
        for kind, t in (
            (TargetKind.LOAD, targets["district:load_kw"]),
            (TargetKind.HEAT, targets["district:heat_demand_kw"]),
            (TargetKind.PV, targets["district:pv_kw"]),
        )
    }
    assert names[TargetKind.LOAD] == ["persistence", "seasonal_naive", "bdew_h25", "bdew_h0"]
    assert names[TargetKind.HEAT] == ["persistence", "seasonal_naive", "bdew_heat"]
    assert names[TargetKind.PV] == ["persistence", "seasonal_naive", "smart_persistence"]
