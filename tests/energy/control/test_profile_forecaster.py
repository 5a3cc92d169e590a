"""The bootstrap forecaster of a fresh site: standard profiles, whatever households the simulator runs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.control.planner import BOOTSTRAP_MODEL_VERSION, ProfileForecaster
from energy.physics.profiles import ProfileModel, district_profiles

ISSUE = pd.Timestamp("2026-02-03T11:00Z")


def test_household_load_is_the_standard_profile_not_the_simulated_households(site):
    forecast = ProfileForecaster(site, 96, seed=1).predict(ISSUE, pd.DataFrame(), pd.DataFrame())
    assert set(forecast["model_version"]) == {BOOTSTRAP_MODEL_VERSION}
    load = forecast[forecast["target"] == "house-01:load_kw"].set_index("valid_time")["value"]
    assert len(load) == 96
    end = ISSUE + pd.Timedelta(hours=24)
    standard = district_profiles(site, ISSUE, end, seed=1, model=ProfileModel(household_load="h25"))
    np.testing.assert_allclose(load.to_numpy(), standard["house-01:load_kw"].to_numpy())
