"""Forecast error metrics. Pairs where the actual or the forecast is missing are left out.

- MAE, RMSE in the target's unit (kW);
- nMAE = MAE / mean(actual) over the scored pairs (denominator: the mean actual power, so that
  nMAE is the error per unit of average demand/generation; stated in every report);
- MASE = MAE / MAE of the in-sample seasonal naive forecast (same slot one week earlier) on the
  training history (Hyndman & Koehler 2006, with the weekly season);
- pinball loss per quantile and averaged over quantiles; interval coverage: the share of actuals
  inside [lowest quantile, highest quantile] (nominal: highest - lowest, e.g. 80 % for 10/90 %);
- skill against a baseline = 1 - MAE(model) / MAE(baseline) on the same pairs (0: as good as the
  baseline, 1: perfect, negative: worse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "coverage",
    "mae",
    "mase_scale",
    "nmae",
    "pinball_loss",
    "point_metrics",
    "quantile_metrics",
    "rmse",
    "skill",
]

WEEK_SLOTS = 7 * 96


def _pairs(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    if a.shape != f.shape:
        raise ValueError(f"actual and forecast differ in shape: {a.shape} vs {f.shape}")
    keep = np.isfinite(a) & np.isfinite(f)
    return a[keep], f[keep]


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    a, f = _pairs(actual, forecast)
    return float(np.mean(np.abs(a - f))) if len(a) else float("nan")


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    a, f = _pairs(actual, forecast)
    return float(np.sqrt(np.mean((a - f) ** 2))) if len(a) else float("nan")


def nmae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """MAE divided by the mean actual of the scored pairs."""
    a, f = _pairs(actual, forecast)
    if not len(a) or np.mean(a) == 0:
        return float("nan")
    return float(np.mean(np.abs(a - f)) / np.mean(a))


def mase_scale(history: pd.Series, season_slots: int = WEEK_SLOTS) -> float:
    """MAE of the seasonal naive forecast within the training history (MASE denominator)."""
    values = history.to_numpy(dtype=float)
    if len(values) <= season_slots:
        return float("nan")
    return mae(values[season_slots:], values[:-season_slots])


def pinball_loss(actual: np.ndarray, forecast: np.ndarray, quantile: float) -> float:
    a, f = _pairs(actual, forecast)
    if not len(a):
        return float("nan")
    diff = a - f
    return float(np.mean(np.maximum(quantile * diff, (quantile - 1.0) * diff)))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    a = np.asarray(actual, dtype=float)
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    keep = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
    if not keep.any():
        return float("nan")
    return float(np.mean((a[keep] >= lo[keep]) & (a[keep] <= hi[keep])))


def skill(model_mae: float, baseline_mae: float) -> float:
    if not np.isfinite(baseline_mae) or baseline_mae == 0:
        return float("nan")
    return float(1.0 - model_mae / baseline_mae)


def point_metrics(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, nMAE and MASE (with the given in-sample scale) of one point forecast."""
    error = mae(actual, forecast)
    return {
        "mae": error,
        "rmse": rmse(actual, forecast),
        "nmae": nmae(actual, forecast),
        "mase": error / scale if np.isfinite(scale) and scale > 0 else float("nan"),
        "n": int(np.sum(np.isfinite(actual) & np.isfinite(forecast))),
    }


def quantile_metrics(
    actual: np.ndarray, quantiles: Mapping[float, np.ndarray] | Sequence[tuple[float, np.ndarray]]
) -> dict[str, float]:
    """Pinball loss per quantile, their mean, and the coverage of the outermost interval."""
    items = sorted(dict(quantiles).items())
    out: dict[str, float] = {}
    losses = []
    for q, values in items:
        loss = pinball_loss(actual, values, q)
        out[f"pinball_q{round(q * 100):02d}"] = loss
        losses.append(loss)
    out["pinball_mean"] = float(np.mean(losses)) if losses else float("nan")
    if len(items) >= 2:
        (q_lo, lo), (q_hi, hi) = items[0], items[-1]
        out["coverage"] = coverage(actual, lo, hi)
        out["coverage_nominal"] = float(q_hi - q_lo)
    return out
