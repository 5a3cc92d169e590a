"""Error metrics: known values and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecasting.metrics import (
    coverage,
    mae,
    mase_scale,
    nmae,
    pinball_loss,
    point_metrics,
    quantile_metrics,
    rmse,
    skill,
)


def test_known_values_and_missing_pairs_are_skipped():
    actual = np.array([1.0, 2.0, np.nan, 4.0])
    forecast = np.array([2.0, 2.0, 5.0, 2.0])
    assert mae(actual, forecast) == pytest.approx(1.0)
    assert rmse(actual, forecast) == pytest.approx(np.sqrt(5 / 3))
    assert nmae(actual, forecast) == pytest.approx(1.0 / (7 / 3))
    assert skill(0.75, 1.0) == pytest.approx(0.25)
    assert np.isnan(skill(1.0, 0.0))


def test_coverage_and_pinball_of_an_interval():
    actual = np.array([0.0, 1.0, 2.0, 3.0])
    assert coverage(actual, actual - 0.5, actual + 0.5) == 1.0
    assert coverage(actual, actual + 0.1, actual + 0.5) == 0.0
    out = quantile_metrics(actual, {0.1: actual - 1, 0.5: actual, 0.9: actual + 1})
    assert out["pinball_q50"] == 0.0
    assert out["pinball_q10"] == pytest.approx(0.1)
    assert out["coverage"] == 1.0
    assert out["coverage_nominal"] == pytest.approx(0.8)


def test_mase_scale_is_the_weekly_naive_error():
    week = 7 * 96
    values = pd.Series(np.r_[np.zeros(week), np.ones(week)])
    assert mase_scale(values) == pytest.approx(1.0)
    assert point_metrics(np.ones(3), np.zeros(3), scale=2.0)["mase"] == pytest.approx(0.5)


finite = st.floats(-1e3, 1e3, allow_nan=False)


@given(arrays(float, 20, elements=finite), arrays(float, 20, elements=finite))
def test_median_pinball_is_half_the_mae(actual, forecast):
    assert pinball_loss(actual, forecast, 0.5) == pytest.approx(mae(actual, forecast) / 2)


@given(arrays(float, 20, elements=finite), arrays(float, 20, elements=finite))
def test_rmse_is_at_least_mae(actual, forecast):
    assert rmse(actual, forecast) >= mae(actual, forecast) - 1e-9
