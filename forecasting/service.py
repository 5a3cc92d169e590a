"""ForecastService: train and issue quantile forecasts for every target of a site.

One model per target (a house's load, heat demand and PV, and the district sums). Each model is a
`QuantileGradientBoosting` on one row per valid time; the features are known at issue time for
every lead up to the horizon (lags >= horizon, weather from the forecast), so the same model serves
all leads and one issue is a single predict call per target.

The district targets get their own models rather than the sum of the house forecasts: summing
house medians is not the district median, and the district model sees the smoother aggregate.

Typical use by the control loop, every 15 minutes::

    service = ForecastService(site, config).fit(history)
    frame = service.predict(issue_time, history, weather_forecast)

`history`: the 15-minute UTC frame of measured series (`<house>:load_kw`, ... and the weather
actuals temp_outdoor_c, ghi_w_per_m2[, dni_w_per_m2, dhi_w_per_m2]); `weather_forecast`: the
weather columns for [issue, issue + horizon). The result is long: target, model_version,
issue_time, valid_time, quantile, value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy.config import LocationConfig
from energy.site import Site
from energy.timegrid import SLOT, as_utc, floor_slot, slot_grid
from forecasting.config import ForecastConfig
from forecasting.features import (
    FeatureBuilder,
    is_daylight,
    issue_weather,
    solar_geometry,
    static_features,
    training_weather,
    year_cached,
)
from forecasting.metrics import mae, mase_scale
from forecasting.models import QuantileGradientBoosting, make_model
from forecasting.nowcast import Nowcast, ResidualCorrection, fit_correction
from forecasting.targets import Target, TargetKind, site_targets, target_frame
from forecasting.weather_error import day_ahead_issue_weather, day_ahead_weather

__all__ = ["FORECAST_COLUMNS", "ForecastService", "TargetModel"]

log = logging.getLogger(__name__)

FORECAST_COLUMNS = ["target", "model_version", "issue_time", "valid_time", "quantile", "value"]
UNVERSIONED = "unsaved"


@dataclass
class TargetModel:
    """A fitted model of one target with what it was trained on."""

    target: Target
    builder: FeatureBuilder
    model: QuantileGradientBoosting
    training_start: pd.Timestamp
    training_end: pd.Timestamp
    metrics: dict[str, float] = field(default_factory=dict)
    version: str = UNVERSIONED
    interval_offsets: tuple[float, float] = (0.0, 0.0)
    #: intraday correction by the latest measured errors (forecasting.nowcast); None: none
    correction: ResidualCorrection | None = None

    def predict_quantiles(self, features: pd.DataFrame, daylight: np.ndarray | None) -> np.ndarray:
        values = self.model.predict_quantiles(features.to_numpy(dtype=float))
        low, high = self.interval_offsets
        if (low or high) and values.shape[1] >= 2:
            values[:, 0] -= low
            values[:, -1] += high
            values.sort(axis=1)
            if self.model.lower_bound is not None:
                np.maximum(values, self.model.lower_bound, out=values)
        if self.target.kind == TargetKind.PV and daylight is not None:
            values[~daylight] = 0.0
        return values


def conformal_offsets(
    previous: TargetModel,
    features: np.ndarray,
    actual: np.ndarray,
    quantiles: np.ndarray,
    widen_only: bool,
) -> tuple[float, float] | None:
    """Split-conformal calibration of the outermost quantiles (CQR, Romano et al. 2019) from the
    previous model's errors on data it never saw (the slots since its training ended).

    Returns (lower, upper) amounts to move the lowest quantile down and the highest up (negative:
    narrow), or None with fewer than a day of new slots. widen_only: residuals from features with
    measured weather understate the errors under forecast weather; they may justify widening,
    never narrowing.
    """
    if len(actual) < 96:
        return None
    predicted = previous.model.predict_quantiles(features)
    n = len(actual)
    low_q, high_q = float(quantiles[0]), float(quantiles[-1])
    level_low = min(1.0, (1.0 - low_q) * (n + 1) / n)
    level_high = min(1.0, high_q * (n + 1) / n)
    low = float(np.quantile(predicted[:, 0] - actual, level_low))
    high = float(np.quantile(actual - predicted[:, -1], level_high))
    return (max(low, 0.0), max(high, 0.0)) if widen_only else (low, high)


def fit_target_model(
    target: Target,
    config: ForecastConfig,
    builder: FeatureBuilder,
    actual: pd.Series,
    weather: pd.DataFrame,
    calendar: pd.DataFrame,
    geometry: pd.DataFrame,
    previous: TargetModel | None = None,
    calibration_weather: pd.DataFrame | None = None,
) -> TargetModel:
    """Fit one target on its actual series (index: the training slots).

    With `previous` (the model this one replaces) and `model.conformal_days`, the interval of the
    new model is calibrated on the previous model's errors over the slots since its training ended
    (at most the last conformal_days): honest out-of-sample residuals at no extra fitting cost.
    `calibration_weather` (from `weather_error.day_ahead_issue_weather`) gives those slots the
    weather their day-ahead forecast saw, so that the residuals include the weather forecast's
    error and may narrow the interval as well as widen it; without it the training weather is
    used, and the interval is only widened.
    """
    valid = actual.index
    features = builder.build(valid, actual, weather, calendar, geometry)
    rows = np.isfinite(actual.to_numpy(dtype=float))
    if target.kind == TargetKind.PV:
        rows &= is_daylight(geometry.reindex(valid))
    if rows.sum() < 96:
        raise ValueError(
            f"target {target.name}: only {int(rows.sum())} usable training slots in "
            f"{valid[0].isoformat()}..{valid[-1].isoformat()}; expected at least one day"
        )
    model = make_model(config.model, config.quantiles, is_house=target.house_id is not None)
    model.fit(features.to_numpy(dtype=float)[rows], actual.to_numpy(dtype=float)[rows])
    fitted = model.predict(features.to_numpy(dtype=float)[rows])
    metrics = {
        "train_mae": mae(actual.to_numpy(dtype=float)[rows], fitted),
        "train_mase_scale": mase_scale(actual),
        "train_slots": int(rows.sum()),
    }
    fitted_model = TargetModel(target, builder, model, valid[0], valid[-1] + SLOT, metrics)
    nowcast = config.nowcast
    if nowcast.enabled and target.kind.value in nowcast.kinds:
        residuals = actual.to_numpy(dtype=float).copy()
        residuals[rows] -= fitted
        correction = fit_correction(
            residuals, nowcast.smoothing_half_life_slots, nowcast.max_lead_slots
        )
        fitted_model.correction = correction
        metrics["nowcast_gain_first_slot"] = correction.gains[0]
    days = config.model.conformal_days
    if previous is not None and days and previous.builder.columns == builder.columns:
        since = max(previous.training_end, valid[-1] + SLOT - pd.Timedelta(days=days))
        if calibration_weather is None:
            new = rows & np.asarray(valid >= since)
            offsets = conformal_offsets(
                previous,
                features.to_numpy(dtype=float)[new],
                actual.to_numpy(dtype=float)[new],
                model.quantiles_,
                widen_only=True,
            )
        else:
            recent = valid[valid >= since].intersection(calibration_weather.index)
            seen = builder.build(recent, actual, calibration_weather, calendar, geometry)
            observed = actual.reindex(recent).to_numpy(dtype=float)
            usable = np.isfinite(observed)
            if target.kind == TargetKind.PV:
                usable &= is_daylight(geometry.reindex(recent))
            offsets = conformal_offsets(
                previous,
                seen.to_numpy(dtype=float)[usable],
                observed[usable],
                model.quantiles_,
                widen_only=False,
            )
        if offsets is not None:
            fitted_model.interval_offsets = offsets
            metrics["conformal_low_kw"], metrics["conformal_high_kw"] = offsets
    return fitted_model


def training_inputs(
    data: pd.DataFrame, config: ForecastConfig, location: LocationConfig
) -> pd.DataFrame:
    """Weather inputs of the training rows (see TrainingConfig.weather): the actuals, or with
    "simulated_day_ahead" the irradiance of each day replaced by its simulated day-ahead forecast.

    Temperature trains on actuals. Also perturbing it, with the smoothed temperatures continued
    from their measured state at each day's issue as at prediction time, was tried and was worse
    (district heat, April-June 2025: MAE 1.04 instead of 0.88 kW, same interval coverage).
    """
    taus = config.features.temp_smoothing_h
    if config.training.weather == "actual" or not config.weather_error.enabled:
        return training_weather(data, taus)
    return training_weather(day_ahead_weather(data, config, location), taus)


def calibration_inputs(
    data: pd.DataFrame, config: ForecastConfig, location: LocationConfig, start: pd.Timestamp
) -> pd.DataFrame | None:
    """Weather of the calibration slots from `start` on as their day-ahead forecasts saw it (see
    `fit_target_model`), when training simulates the day-ahead weather; otherwise None."""
    if config.training.weather != "simulated_day_ahead" or not config.model.conformal_days:
        return None
    return day_ahead_issue_weather(data, config, location, start)


class ForecastService:
    """Fits and issues forecasts for the targets of a site (default: all of them)."""

    def __init__(
        self,
        site: Site,
        config: ForecastConfig | None = None,
        targets: Sequence[str] | None = None,
    ) -> None:
        self.site = site
        self.config = config or ForecastConfig()
        available = {t.name: t for t in site_targets(site)}
        if targets is None:
            self.targets = list(available.values())
        else:
            unknown = [name for name in targets if name not in available]
            if unknown:
                raise KeyError(
                    f"site {site.id}: unknown forecast target(s) {unknown}; "
                    f"known: {sorted(available)}"
                )
            self.targets = [available[name] for name in targets]
        self.models: dict[str, TargetModel] = {}

    @property
    def location(self) -> LocationConfig:
        return self.site.config.location

    def builder(self, target: Target) -> FeatureBuilder:
        return FeatureBuilder(target, self.config.features, self.location)

    def _training_window(self, history: pd.DataFrame) -> pd.DataFrame:
        if history.index.tz is None:
            raise ValueError("history needs a UTC-aware DatetimeIndex")
        window = self.config.training.window_days
        if window is not None:
            history = history.loc[history.index[-1] - pd.Timedelta(days=window) + SLOT :]
        span_days = len(history) * SLOT / pd.Timedelta(days=1)
        if span_days < self.config.training.min_days:
            raise ValueError(
                f"training history covers {span_days:.1f} days; expected at least "
                f"{self.config.training.min_days} (training.min_days)"
            )
        return history

    def fit(
        self, history: pd.DataFrame, progress: Callable[[str], None] | None = None
    ) -> ForecastService:
        """Train every target on `history` (the configured training window of it)."""
        data = self._training_window(history)
        actuals = target_frame(data, self.targets)
        weather = training_inputs(data, self.config, self.location)
        calendar = static_features(data.index, self.location)
        geometry = solar_geometry(data.index, self.location)
        previous, self.models = self.models, {}
        calibration = None
        if previous and self.config.model.conformal_days:
            since = data.index[-1] + SLOT - pd.Timedelta(days=self.config.model.conformal_days)
            calibration = calibration_inputs(data, self.config, self.location, since)
        for target in self.targets:
            self.models[target.name] = fit_target_model(
                target,
                self.config,
                self.builder(target),
                actuals[target.name],
                weather,
                calendar,
                geometry,
                previous.get(target.name),
                calibration,
            )
            log.debug("fitted %s on %d slots", target.name, len(data))
            if progress is not None:
                progress(target.name)
        return self

    def nowcast(self) -> Nowcast | None:
        """The intraday corrections of the fitted targets that have one (None: no target has)."""
        corrections = {
            name: fitted.correction
            for name, fitted in self.models.items()
            if fitted.correction is not None
        }
        return Nowcast(corrections) if corrections else None

    def refit_due(self, now: pd.Timestamp) -> list[str]:
        """Targets whose model is older than `training.refit_every_days` at `now` (or missing)."""
        cadence = pd.Timedelta(days=self.config.training.refit_every_days)
        due = []
        for target in self.targets:
            fitted = self.models.get(target.name)
            if fitted is None or as_utc(now) - fitted.training_end >= cadence:
                due.append(target.name)
        return due

    def _context_slots(self) -> int:
        """How much history before the issue the features need (lags, rolling mean, smoothing)."""
        features = self.config.features
        hours = max(features.lags_h, default=0.0) + (features.rolling_mean_h or 0.0)
        hours = max(hours, 5.0 * max(features.temp_smoothing_h, default=0.0))
        return int(np.ceil(hours * 4)) + 4

    def predict(
        self,
        issue_time: pd.Timestamp,
        history: pd.DataFrame,
        weather_forecast: pd.DataFrame,
    ) -> pd.DataFrame:
        """Quantile forecasts of all fitted targets for [issue, issue + horizon).

        Only history before the issue slot is used. Raises if the service is not fitted.
        """
        if not self.models:
            raise RuntimeError("ForecastService.predict: not fitted; call fit() or load a model")
        issue = floor_slot(issue_time)
        valid = slot_grid(issue, issue + self.config.horizon_slots * SLOT)
        past = history.loc[issue - self._context_slots() * SLOT : issue - SLOT]
        actuals = target_frame(past, [m.target for m in self.models.values()])
        known = training_weather(past, self.config.features.temp_smoothing_h)
        weather = issue_weather(
            known, weather_forecast, issue, self.config.features.temp_smoothing_h
        )
        covered = weather.index.intersection(valid)
        if len(covered) < len(valid):
            log.warning(
                "weather forecast issued %s covers %d of %d slots; the rest is predicted with "
                "missing weather features",
                issue.isoformat(),
                len(covered),
                len(valid),
            )
        calendar = year_cached("static", valid, self.location)
        geometry = year_cached("geometry", valid, self.location)
        daylight = is_daylight(geometry)
        cache: dict[object, object] = {}
        names, versions, blocks = [], [], []
        quantiles = None
        for name, fitted in self.models.items():
            features = fitted.builder.build(
                valid, actuals[name], weather, calendar, geometry, cache
            )
            blocks.append(fitted.predict_quantiles(features, daylight))
            names.append(name)
            versions.append(fitted.version)
            quantiles = fitted.model.quantiles_
        return _long(names, versions, issue, valid, quantiles, blocks)


def _long(
    names: list[str],
    versions: list[str],
    issue: pd.Timestamp,
    valid: pd.DatetimeIndex,
    quantiles: np.ndarray | None,
    blocks: list[np.ndarray],
) -> pd.DataFrame:
    """Stack per-target (n_valid, n_quantiles) blocks into the long forecast frame."""
    if quantiles is None:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    per_target = len(valid) * len(quantiles)
    return pd.DataFrame(
        {
            "target": _repeated(names, per_target),
            "model_version": _repeated(versions, per_target),
            "issue_time": pd.DatetimeIndex(
                np.full(per_target * len(names), issue.tz_convert(None).to_datetime64())
            ).tz_localize("UTC"),
            # datetime64 values: a tz-aware index's to_numpy() gives Timestamp objects (slow)
            "valid_time": pd.DatetimeIndex(
                np.tile(np.repeat(valid.tz_convert(None).to_numpy(), len(quantiles)), len(names))
            ).tz_localize("UTC"),
            "quantile": np.tile(quantiles, len(valid) * len(names)),
            "value": np.concatenate([b.reshape(-1) for b in blocks]),
        }
    )


def _repeated(labels: list[str], times: int) -> pd.Categorical:
    """Each label repeated `times` times, as a categorical (cheap to build and to store)."""
    codes, uniques = pd.factorize(np.asarray(labels, dtype=object))
    return pd.Categorical.from_codes(np.repeat(codes, times), categories=list(uniques))
