"""Rolling-origin backtests of one target against its baselines.

Issues are made at a local clock time (`backtest.issue_time_local`, default 12:00, every
`issue_every_days`) from `start` to `end`. Each issue sees only data before its issue time: the
actuals of the target (through lags >= horizon), the actual weather before the issue and a weather
forecast after it (by default the simulated forecast of `forecasting.weather_error`). Scored are the
valid times in [issue + gap, issue + horizon): with the defaults (12:00 issue, 12 h gap, 36 h
horizon) that is the next local day, the day-ahead case.

The model is refitted at the first issue and then every `refit_every_days`, on all data before the
refit issue (expanding window) or on the last `training.window_days` (sliding). Baselines are
refitted at the same times. Metrics are computed on the pairs every forecaster has a value for.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy.config import LocationConfig
from energy.timegrid import SLOT, as_utc
from forecasting.baselines import Baseline, make_baselines
from forecasting.config import FeatureGroup, ForecastConfig
from forecasting.features import (
    FeatureBuilder,
    is_daylight,
    issue_weather,
    solar_geometry,
    static_features,
    training_weather,
)
from forecasting.metrics import mase_scale, point_metrics, quantile_metrics, skill
from forecasting.service import calibration_inputs, fit_target_model, training_inputs
from forecasting.targets import Target, TargetKind, target_frame
from forecasting.weather_error import simulate_weather_forecast

__all__ = ["MODEL", "BacktestResult", "issue_times", "run_backtest"]

log = logging.getLogger(__name__)

MODEL = "model"
WeatherForecaster = Callable[[pd.Timestamp], pd.DataFrame]


@dataclass
class BacktestResult:
    """Scored forecasts of one target and their metrics.

    predictions: one row per (issue_time, valid_time) with `actual`, the model quantiles as
    `q10`, `q50`, ... and one column per baseline (point forecasts).
    metrics: per forecaster (`model` and each baseline) MAE, RMSE, nMAE, MASE, n; the model also
    pinball losses and interval coverage (on the `interval_scored` rows: PV in daylight only) and
    `skill_vs_<baseline>`.
    """

    target: Target
    settings: dict[str, Any]
    predictions: pd.DataFrame
    metrics: dict[str, dict[str, float]]
    baselines: list[str] = field(default_factory=list)

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        valid = self.predictions["valid_time"]
        return valid.min(), valid.max() + SLOT

    def table(self) -> pd.DataFrame:
        """Metrics as a table: one row per forecaster."""
        return pd.DataFrame(self.metrics).T


def issue_times(
    start: pd.Timestamp, end: pd.Timestamp, config: ForecastConfig, location: LocationConfig
) -> pd.DatetimeIndex:
    """UTC issue times at the configured local clock time on every n-th local day in [start, end)."""
    tz = location.timezone
    first_day = as_utc(start).tz_convert(tz).date()
    last_day = as_utc(end).tz_convert(tz).date()
    times = []
    day = first_day
    while day <= last_day:
        local = pd.Timestamp(dt.datetime.combine(day, config.backtest.issue_time_local), tz=tz)
        issue = local.tz_convert("UTC").floor(SLOT)
        if as_utc(start) <= issue < as_utc(end):
            times.append(issue)
        day += dt.timedelta(days=config.backtest.issue_every_days)
    return pd.DatetimeIndex(times, name="issue_time")


def default_weather_forecaster(weather: pd.DataFrame, config: ForecastConfig) -> WeatherForecaster:
    """Simulated forecasts from the actual weather (seeded error growing with lead time)."""

    def forecast(issue: pd.Timestamp) -> pd.DataFrame:
        return simulate_weather_forecast(weather, issue, config.horizon_slots, config.weather_error)

    return forecast


def run_backtest(
    target: Target,
    data: pd.DataFrame,
    config: ForecastConfig,
    location: LocationConfig,
    start: pd.Timestamp,
    end: pd.Timestamp,
    weather_forecaster: WeatherForecaster | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Backtest `target` on `data` (its component series and the actual weather, 15-min UTC)."""
    start, end = as_utc(start), as_utc(end)
    actual = target_frame(data, [target])[target.name]
    forecaster: WeatherForecaster | None
    if "temp_outdoor_c" in data.columns:
        weather = training_weather(data, config.features.temp_smoothing_h)
        raw_weather = data[[c for c in weather.columns if not c.startswith("temp_smooth")]]
        forecaster = weather_forecaster or default_weather_forecaster(raw_weather, config)
        train_weather = training_inputs(raw_weather, config, location)
        calibration = calibration_inputs(raw_weather, config, location, data.index[0])
    else:
        _require_no_weather(target, config)
        weather = train_weather = pd.DataFrame(index=data.index)
        forecaster = calibration = None
    first_allowed = data.index[0] + pd.Timedelta(days=config.backtest.initial_train_days)
    issues = issue_times(max(start, first_allowed), end, config, location)
    if len(issues) == 0:
        raise ValueError(
            f"backtest of {target.name}: no issue time in [{start.isoformat()}, {end.isoformat()}) "
            f"with {config.backtest.initial_train_days} days of history before it "
            f"(data starts {data.index[0].isoformat()})"
        )
    calendar = static_features(data.index, location)
    geometry = solar_geometry(data.index, location)
    builder = FeatureBuilder(target, config.features, location)
    baselines = make_baselines(target, location)
    refit_every = pd.Timedelta(days=config.backtest.refit_every_days)
    gap = pd.Timedelta(hours=config.backtest.gap_h)
    horizon = config.horizon_slots * SLOT

    rows: list[pd.DataFrame] = []
    fitted = None
    last_fit: pd.Timestamp | None = None
    scale = float("nan")
    for number, issue in enumerate(issues):
        if fitted is None or last_fit is None or issue - last_fit >= refit_every:
            train = _training_slice(actual.loc[: issue - SLOT], config)
            fitted = fit_target_model(
                target,
                config,
                builder,
                train,
                train_weather,
                calendar,
                geometry,
                fitted,
                calibration,
            )
            for baseline in baselines:
                baseline.fit(train, weather.loc[train.index[0] : train.index[-1]])
            if last_fit is None:
                scale = mase_scale(train)
            last_fit = issue
        rows.append(
            _score_issue(
                issue,
                gap,
                horizon,
                actual,
                weather,
                forecaster,
                fitted,
                baselines,
                calendar,
                geometry,
                config,
            )
        )
        if progress is not None:
            progress(number + 1, len(issues))
    predictions = pd.concat(rows, ignore_index=True)
    names = [b.name for b in baselines]
    metrics = _metrics(predictions, names, config.quantiles, scale)
    settings = {
        "issues": len(issues),
        "first_issue": issues[0].isoformat(),
        "last_issue": issues[-1].isoformat(),
        "issue_time_local": config.backtest.issue_time_local.isoformat(),
        "gap_h": config.backtest.gap_h,
        "horizon_h": config.horizon_h,
        "refit_every_days": config.backtest.refit_every_days,
        "window": config.backtest.window,
        "training_window_days": config.training.window_days,
        "weather_error": config.weather_error.model_dump(),
        "training_weather": config.training.weather,
        "model": config.model.model_dump(),
        "features": config.features.model_dump(mode="json"),
        "nmae_denominator": "mean actual over the scored slots",
        "mase_scale": "in-sample MAE of the weekly seasonal naive before the first issue",
        "mase_scale_kw": scale,
    }
    return BacktestResult(target, settings, predictions, metrics, names)


def _require_no_weather(target: Target, config: ForecastConfig) -> None:
    """Without weather data only weather-free features and baselines can run."""
    needs = {FeatureGroup.TEMPERATURE, FeatureGroup.IRRADIANCE, FeatureGroup.SOLAR}
    used = needs & set(config.features.groups_for(target.kind.value))
    if used or target.kind != TargetKind.LOAD:
        raise ValueError(
            f"backtest of {target.name} ({target.kind.value}): needs weather data "
            f"(temp_outdoor_c, ghi_w_per_m2) for feature groups {sorted(g.value for g in used)} "
            "and its baselines; pass weather or use weather-free feature groups for load"
        )


def _training_slice(actual: pd.Series, config: ForecastConfig) -> pd.Series:
    if config.backtest.window == "sliding" and config.training.window_days is not None:
        return actual.loc[actual.index[-1] - pd.Timedelta(days=config.training.window_days) :]
    return actual


def _score_issue(
    issue: pd.Timestamp,
    gap: pd.Timedelta,
    horizon: pd.Timedelta,
    actual: pd.Series,
    weather: pd.DataFrame,
    forecaster: WeatherForecaster | None,
    fitted: Any,
    baselines: list[Baseline],
    calendar: pd.DataFrame,
    geometry: pd.DataFrame,
    config: ForecastConfig,
) -> pd.DataFrame:
    known = actual.loc[: issue - SLOT]
    valid = pd.date_range(issue + gap, issue + horizon, freq=SLOT, inclusive="left")
    if forecaster is None:
        wx = pd.DataFrame(index=pd.date_range(issue, issue + horizon, freq=SLOT, inclusive="left"))
    else:
        wx = issue_weather(weather, forecaster(issue), issue, config.features.temp_smoothing_h)
        valid = valid[valid.isin(wx.index)]
    geo = geometry.reindex(valid)
    features = fitted.builder.build(valid, known, wx, calendar.reindex(valid), geo)
    if fitted.builder.columns != list(features.columns):
        raise RuntimeError("feature columns changed between fit and predict")
    daylight = is_daylight(geo)
    quantiles = fitted.predict_quantiles(features, daylight)
    frame = pd.DataFrame(
        {
            "issue_time": issue,
            "valid_time": valid,
            "lead_h": (valid - issue) / pd.Timedelta(hours=1),
            "actual": actual.reindex(valid).to_numpy(dtype=float),
            # PV at night is 0 by construction: its [0, 0] interval would count as covered
            "interval_scored": daylight if fitted.target.kind == TargetKind.PV else True,
        }
    )
    for k, q in enumerate(fitted.model.quantiles_):
        frame[_qname(q)] = quantiles[:, k]
    past_weather = weather.loc[: issue - SLOT]
    mixed = pd.concat([past_weather[wx.columns.intersection(past_weather.columns)], wx])
    for baseline in baselines:
        frame[baseline.name] = baseline.predict(issue, valid, known, mixed)
    return frame


def _qname(q: float) -> str:
    return f"q{round(q * 100):02d}"


def _metrics(
    predictions: pd.DataFrame, baselines: list[str], quantiles: list[float], scale: float
) -> dict[str, dict[str, float]]:
    median = _qname(0.5)
    columns = [median, *baselines]
    scored = predictions.dropna(subset=["actual", *columns])
    actual = scored["actual"].to_numpy()
    metrics: dict[str, dict[str, float]] = {}
    metrics[MODEL] = point_metrics(actual, scored[median].to_numpy(), scale)
    interval = scored[scored["interval_scored"]]
    metrics[MODEL].update(
        quantile_metrics(
            interval["actual"].to_numpy(), {q: interval[_qname(q)].to_numpy() for q in quantiles}
        )
    )
    for name in baselines:
        metrics[name] = point_metrics(actual, scored[name].to_numpy(), scale)
    for name in [MODEL, *baselines]:
        for other in baselines:
            if other != name:
                metrics[name][f"skill_vs_{other}"] = skill(
                    metrics[name]["mae"], metrics[other]["mae"]
                )
    return {k: {m: _plain(v) for m, v in d.items()} for k, d in metrics.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
