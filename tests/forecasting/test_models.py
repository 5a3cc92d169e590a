"""QuantileGradientBoosting keeps the scikit-learn estimator contract and non-crossing quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecasting.models import QuantileGradientBoosting


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, size=(n, 2))
    y = 2.0 + x[:, 0] + rng.normal(0, 1.0, n)
    return x, y


def test_estimator_contract():
    model = QuantileGradientBoosting(max_iter=10)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict(np.zeros((1, 2)))
    x, y = _data(500)
    assert model.fit(x, y) is model
    assert model.n_features_in_ == 2
    assert list(model.quantiles_) == [0.1, 0.5, 0.9]


def test_quantiles_are_ordered_clipped_and_roughly_calibrated():
    x, y = _data()
    model = QuantileGradientBoosting(max_iter=40, lower_bound=0.0).fit(x, y)
    xt, yt = _data(2000, seed=1)
    q = model.predict_quantiles(xt)
    assert (np.diff(q, axis=1) >= 0).all()
    assert (q >= 0).all()
    inside = np.mean((yt >= q[:, 0]) & (yt <= q[:, 2]))
    assert 0.7 < inside < 0.9
    assert np.mean(np.abs(model.predict(xt) - (2.0 + xt[:, 0]))) < 0.3


def test_missing_targets_are_dropped_and_all_missing_is_an_error():
    x, y = _data(400)
    y[::3] = np.nan
    QuantileGradientBoosting(max_iter=5).fit(x, y)
    with pytest.raises(ValueError, match="finite"):
        QuantileGradientBoosting(max_iter=5).fit(x, np.full(len(y), np.nan))


def test_median_is_required():
    x, y = _data(200)
    with pytest.raises(ValueError, match=r"0\.5"):
        QuantileGradientBoosting(quantiles=(0.1, 0.9), max_iter=5).fit(x, y)
