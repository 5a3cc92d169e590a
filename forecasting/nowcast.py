"""Intraday correction of a forecast by its latest measured errors (nowcasting).

The forecast models serve every lead up to the horizon from one row per valid time, so their
features never include the last hours (every lag is at least 48 h): a forecast knows nothing of
the household that has been away since noon or of the fog that has not lifted. A model
predictive controller runs only the first slot of each plan, so the error of the first hour is
what a forecast costs it (docs/evaluation.md). Forecast errors persist over hours, so the latest
measured errors predict the next ones:

    corrected[t + k] = forecast[t + k] + gain[k] * s(t),    k = 0 .. len(gain) - 1

s(t) is the exponentially smoothed error (actual - forecast in force) of the slots before t, and
gain[k] the least-squares coefficient of the error k slots after t on s(t), estimated per target
on the model's residuals over its training data (`fit_correction`) and clipped to [0, 1]: a
correction never overshoots the error it saw or flips its sign. A slot forecast at zero (PV at
night) stays zero, and no corrected value goes below zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

__all__ = ["Nowcast", "ResidualCorrection", "fit_correction", "smoothing_weights"]

FloatArray = npt.NDArray[np.float64]

#: The smoothing looks back this many half-lives (the older weights sum to 1/64).
_LOOKBACK_HALF_LIVES = 6.0


def smoothing_weights(half_life_slots: float) -> FloatArray:
    """Weights of the errors of the last slots, newest first: a(1 - a)^j, a = 1 - 2^(-1/h)."""
    if not (math.isfinite(half_life_slots) and half_life_slots > 0):
        raise ValueError(f"smoothing half-life: expected slots > 0; found {half_life_slots!r}")
    alpha = 1.0 - 0.5 ** (1.0 / half_life_slots)
    n = max(1, math.ceil(_LOOKBACK_HALF_LIVES * half_life_slots))
    return alpha * (1.0 - alpha) ** np.arange(n)


@dataclass(frozen=True)
class ResidualCorrection:
    """The correction of one target: gain per lead (slots after the issue) on the smoothed error."""

    gains: tuple[float, ...]
    smoothing_half_life_slots: float

    @cached_property
    def weights(self) -> FloatArray:
        """Weights of the errors of the last slots, newest first."""
        return smoothing_weights(self.smoothing_half_life_slots)

    @cached_property
    def gain_array(self) -> FloatArray:
        return np.asarray(self.gains, dtype=float)

    @property
    def lookback_slots(self) -> int:
        """How many slots before the issue the smoothed error looks at."""
        return len(self.weights)

    def smoothed_error(self, errors: FloatArray) -> float:
        """The smoothed error of `errors` (oldest first, ending at the slot before the issue);
        unknown (NaN) errors count as zero, and an unknown last error gives no correction."""
        if len(errors) == 0 or not np.isfinite(errors[-1]):
            return 0.0
        recent = np.nan_to_num(np.asarray(errors, dtype=float)[::-1][: len(self.weights)])
        return float(np.dot(self.weights[: len(recent)], recent))

    def apply(self, forecast: FloatArray, errors: FloatArray) -> FloatArray:
        """`forecast` (from the issue slot on) corrected by the measured `errors` before it."""
        smoothed = self.smoothed_error(errors)
        out = np.array(forecast, dtype=float)
        if smoothed == 0.0:
            return out
        n = min(len(out), len(self.gains))
        corrected = out[:n] + self.gain_array[:n] * smoothed
        out[:n] = np.where(out[:n] > 0.0, np.maximum(corrected, 0.0), out[:n])
        return out


def fit_correction(
    residuals: FloatArray, smoothing_half_life_slots: float, max_lead_slots: int
) -> ResidualCorrection:
    """Estimate the gains from a model's residuals (actual - forecast) on a gapless 15-minute
    grid, NaN where unknown: per lead k, sum(s[t] r[t + k]) / sum(s[t]^2) over the slots t whose
    smoothed error s[t] (of the slots before t) and r[t + k] are known, clipped to [0, 1]."""
    r = np.asarray(residuals, dtype=float)
    weights = smoothing_weights(smoothing_half_life_slots)
    known = np.isfinite(r)
    smoothed = np.full(len(r), np.nan)
    if len(r) > 1:
        # smoothed[t] uses r[t - 1], r[t - 2], ...: what is measured when slot t is planned
        convolved = np.convolve(np.nan_to_num(r), weights)[: len(r) - 1]
        smoothed[1:] = np.where(known[:-1], convolved, np.nan)
    # unknown values take part as zeros with a zero weight: no masked copies per lead
    s = np.nan_to_num(smoothed)
    ahead = np.nan_to_num(r)
    gains = []
    for k in range(max_lead_slots):
        n = len(r) - k
        weighted = s[:n] * (np.isfinite(smoothed[:n]) & known[k:])
        denominator = float(np.dot(weighted, s[:n]))
        gain = float(np.dot(weighted, ahead[k:])) / denominator if denominator > 0 else 0.0
        gains.append(min(max(gain, 0.0), 1.0))
    return ResidualCorrection(tuple(gains), float(smoothing_half_life_slots))


@dataclass(frozen=True)
class Nowcast:
    """The corrections of several targets (by target name), applied together."""

    corrections: Mapping[str, ResidualCorrection]

    @cached_property
    def lookback_slots(self) -> int:
        return max((c.lookback_slots for c in self.corrections.values()), default=0)

    def apply(
        self, forecast: Mapping[str, FloatArray], errors: Mapping[str, FloatArray]
    ) -> dict[str, FloatArray]:
        """Every target of `forecast` with a correction and measured `errors`, corrected; the
        others unchanged."""
        out = dict(forecast)
        for target, correction in self.corrections.items():
            if target in out and target in errors:
                out[target] = correction.apply(out[target], errors[target])
        return out
