"""The intraday correction: smoothing, gains estimated from residuals, and how it is applied."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecasting.nowcast import Nowcast, ResidualCorrection, fit_correction, smoothing_weights


def ar1(phi: float, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=n)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def test_smoothing_weights_halve_every_half_life_and_look_back_six_half_lives() -> None:
    weights = smoothing_weights(2.0)
    assert weights[2] == pytest.approx(weights[0] / 2)
    assert len(weights) == 12
    assert weights.sum() == pytest.approx(1 - 1 / 64)
    with pytest.raises(ValueError, match="half-life"):
        smoothing_weights(0.0)


def test_gains_of_an_ar1_error_decay_as_its_autocorrelation() -> None:
    # a half-life this short makes the smoothed error the last error: gains are phi^(k+1)
    correction = fit_correction(ar1(0.8, 40_000), 0.05, 8)
    expected = 0.8 ** np.arange(1, 9)
    np.testing.assert_allclose(correction.gains, expected, atol=0.03)


def test_white_noise_and_alternating_errors_get_no_correction() -> None:
    rng = np.random.default_rng(1)
    assert max(fit_correction(rng.normal(size=20_000), 2.0, 4).gains) < 0.05
    alternating = np.tile([1.0, -1.0], 500)
    assert fit_correction(alternating, 0.05, 4).gains[0] == 0.0  # clipped: never flips a sign


def test_gains_are_estimated_across_unknown_residuals() -> None:
    residuals = ar1(0.9, 20_000)
    residuals[::7] = np.nan
    correction = fit_correction(residuals, 0.05, 2)
    assert correction.gains[0] == pytest.approx(0.9, abs=0.05)


def test_apply_corrects_the_first_leads_by_gain_times_smoothed_error() -> None:
    correction = ResidualCorrection(gains=(0.5, 0.25), smoothing_half_life_slots=0.05)
    forecast = np.array([1.0, 1.0, 1.0, 0.0])
    corrected = correction.apply(forecast, np.array([0.0, 2.0]))
    smoothed = correction.smoothed_error(np.array([0.0, 2.0]))
    assert smoothed == pytest.approx(2.0, rel=1e-3)
    np.testing.assert_allclose(corrected, [1 + 0.5 * smoothed, 1 + 0.25 * smoothed, 1.0, 0.0])


def test_apply_leaves_zero_forecasts_and_unknown_latest_errors_alone() -> None:
    correction = ResidualCorrection(gains=(1.0, 1.0, 1.0), smoothing_half_life_slots=1.0)
    forecast = np.array([0.0, 0.4, 2.0])
    # PV at night stays zero; a negative error never takes a value below zero
    np.testing.assert_allclose(correction.apply(forecast, np.array([-1.0, -1.0])), [0.0, 0.0, 1.25])
    np.testing.assert_array_equal(correction.apply(forecast, np.array([3.0, np.nan])), forecast)
    np.testing.assert_array_equal(correction.apply(forecast, np.array([])), forecast)


def test_nowcast_applies_only_to_targets_it_has_errors_for() -> None:
    correction = ResidualCorrection(gains=(1.0,), smoothing_half_life_slots=0.05)
    nowcast = Nowcast({"a": correction, "b": correction})
    out = nowcast.apply(
        {"a": np.array([1.0]), "b": np.array([1.0]), "c": np.array([1.0])},
        {"a": np.array([1.0])},
    )
    assert out["a"][0] == pytest.approx(2.0, rel=1e-3)
    assert out["b"][0] == 1.0
    assert out["c"][0] == 1.0
    assert nowcast.lookback_slots == 1


@given(
    forecast=st.lists(st.floats(0, 50), min_size=1, max_size=20),
    errors=st.lists(st.floats(-50, 50) | st.just(float("nan")), max_size=20),
    gains=st.lists(st.floats(0, 1), min_size=1, max_size=20),
    half_life=st.floats(0.1, 8),
)
def test_a_corrected_forecast_is_never_negative_and_keeps_its_zeros(
    forecast: list[float], errors: list[float], gains: list[float], half_life: float
) -> None:
    correction = ResidualCorrection(tuple(gains), half_life)
    corrected = correction.apply(np.array(forecast), np.array(errors))
    assert corrected.shape == (len(forecast),)
    assert (corrected >= 0).all()
    assert (corrected[np.array(forecast) == 0] == 0).all()
    assert np.array_equal(corrected[len(gains) :], np.array(forecast)[len(gains) :])
