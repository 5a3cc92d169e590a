"""Everything an analyst can tune about forecasting, in one validated schema.

`ForecastConfig` holds the horizon and issue cadence, the quantiles, the features (lags, weather
smoothing, feature groups per target kind), the model and its parameters, the training window and
refit cadence, the backtest settings and the simulated weather-forecast error. `load_forecast_config`
reads it from YAML; every problem names the file, the key, what was expected and what was found.

Lags must be at least the horizon: a lag shorter than the horizon is not known at issue time for the
longest lead times, and the model trains on one row per valid time (see docs/forecasting.md).
"""

from __future__ import annotations

import datetime as dt
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from energy.yamlfile import load_yaml

__all__ = [
    "BacktestConfig",
    "FeatureConfig",
    "FeatureGroup",
    "ForecastConfig",
    "ForecastConfigError",
    "ModelConfig",
    "NowcastConfig",
    "TrainingConfig",
    "WeatherErrorConfig",
    "load_forecast_config",
]

PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureGroup(StrEnum):
    """Feature groups that can be switched on per target kind."""

    CALENDAR = "calendar"
    LAGS = "lags"
    TEMPERATURE = "temperature"
    IRRADIANCE = "irradiance"
    SOLAR = "solar"
    PROFILE = "profile"


class FeatureConfig(_Model):
    lags_h: list[PositiveFloat] = Field(
        default_factory=lambda: [48.0, 168.0],
        description="target values this many hours before the valid time; each >= horizon_h",
    )
    rolling_mean_h: PositiveFloat | None = Field(
        24.0, description="mean of the target over this many hours ending at the shortest lag"
    )
    temp_smoothing_h: list[PositiveFloat] = Field(
        default_factory=lambda: [12.0, 48.0],
        description="time constants of exponentially smoothed outdoor temperature (building inertia)",
    )
    load: list[FeatureGroup] = Field(
        default_factory=lambda: [
            FeatureGroup.CALENDAR,
            FeatureGroup.PROFILE,
            FeatureGroup.LAGS,
            FeatureGroup.TEMPERATURE,
        ]
    )
    heat: list[FeatureGroup] = Field(
        default_factory=lambda: [
            FeatureGroup.CALENDAR,
            FeatureGroup.LAGS,
            FeatureGroup.TEMPERATURE,
            FeatureGroup.IRRADIANCE,
        ]
    )
    pv: list[FeatureGroup] = Field(
        default_factory=lambda: [
            FeatureGroup.CALENDAR,
            FeatureGroup.SOLAR,
            FeatureGroup.IRRADIANCE,
            FeatureGroup.TEMPERATURE,
        ]
    )

    def groups_for(self, kind: str) -> list[FeatureGroup]:
        return list(getattr(self, kind))


class ModelConfig(_Model):
    kind: Literal["hist_gradient_boosting"] = "hist_gradient_boosting"
    params: dict[str, Any] = Field(
        default_factory=lambda: {
            "max_iter": 60,
            "learning_rate": 0.1,
            "max_leaf_nodes": 31,
            "min_samples_leaf": 40,
            "l2_regularization": 0.0,
        },
        description="keyword arguments of the estimator (see forecasting.models)",
    )
    house_params: dict[str, Any] = Field(
        default_factory=lambda: {"max_iter": 25, "max_leaf_nodes": 15, "learning_rate": 0.25},
        description="overrides of params for per-house targets (smaller: house series are "
        "dominated by noise no model can predict, and there are many of them)",
    )

    conformal_days: PositiveFloat | None = Field(
        28.0,
        description="calibrate the outermost quantiles on the replaced model's errors over at "
        "most this many recent days (split-conformal); None: no calibration",
    )

    def params_for(self, is_house: bool) -> dict[str, Any]:
        return {**self.params, **self.house_params} if is_house else dict(self.params)


class TrainingConfig(_Model):
    window_days: PositiveFloat | None = Field(
        None, description="train on the last N days only; None = all history (expanding window)"
    )
    min_days: PositiveFloat = Field(14.0, description="refuse to train on less history than this")
    refit_every_days: PositiveFloat = Field(7.0, description="refit cadence in production")
    weather: Literal["actual", "simulated_day_ahead"] = Field(
        "simulated_day_ahead",
        description="irradiance inputs of the training rows: the actuals, or the simulated "
        "day-ahead forecast of each day (weather_error), so that PV quantiles include the "
        "irradiance forecast error; temperature always trains on actuals",
    )


class BacktestConfig(_Model):
    issue_time_local: dt.time = Field(
        dt.time(12, 0), description="local clock time of each issue (day-ahead: before 12:00)"
    )
    issue_every_days: Annotated[int, Field(ge=1)] = 1
    gap_h: NonNegativeFloat = Field(
        12.0, description="first lead time scored: valid times in [issue + gap, issue + horizon)"
    )
    initial_train_days: PositiveFloat = Field(28.0, description="history before the first issue")
    refit_every_days: PositiveFloat = 7.0
    window: Literal["expanding", "sliding"] = "expanding"


class WeatherErrorConfig(_Model):
    """Simulated weather forecast = actual + error that grows with lead time (see weather_error)."""

    enabled: bool = True
    seed: int = 0
    temp_sigma_c_at_0h: NonNegativeFloat = 0.5
    temp_sigma_c_at_36h: NonNegativeFloat = 2.0
    irradiance_log_sigma_at_0h: NonNegativeFloat = 0.15
    irradiance_log_sigma_at_36h: NonNegativeFloat = 0.45
    autocorrelation_per_h: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.9, description="AR(1) coefficient of the error from one hour to the next"
    )


class NowcastConfig(_Model):
    """Intraday correction of the forecast by its latest measured errors (forecasting.nowcast)."""

    enabled: bool = True
    kinds: list[Literal["load", "heat", "pv"]] = Field(
        ["load", "heat", "pv"], description="target kinds whose forecasts are corrected"
    )
    smoothing_half_life_slots: PositiveFloat = Field(
        2.0, description="half-life of the exponential smoothing of the measured errors (slots)"
    )
    max_lead_slots: Annotated[int, Field(ge=1, le=96)] = Field(
        16, description="leads corrected: 0 .. max_lead_slots - 1 slots after the issue"
    )


class ForecastConfig(_Model):
    horizon_h: PositiveFloat = 36.0
    issue_every_min: Annotated[int, Field(ge=15, multiple_of=15)] = 15
    quantiles: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        default_factory=lambda: [0.1, 0.5, 0.9]
    )
    features: FeatureConfig = FeatureConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    backtest: BacktestConfig = BacktestConfig()
    weather_error: WeatherErrorConfig = WeatherErrorConfig()
    nowcast: NowcastConfig = NowcastConfig()
    bdew_profile: Literal["H25", "H0"] = Field(
        "H25", description="standard load profile of the headline electric-load baseline"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ForecastConfig:
        if sorted(set(self.quantiles)) != list(self.quantiles) or 0.5 not in self.quantiles:
            raise ValueError(
                f"quantiles: expected strictly increasing values including 0.5; "
                f"found {self.quantiles}"
            )
        short = [lag for lag in self.features.lags_h if lag < self.horizon_h]
        if short:
            raise ValueError(
                f"features.lags_h: every lag must be >= horizon_h ({self.horizon_h} h) to be known "
                f"at issue time for every lead; found {short}"
            )
        if self.horizon_h * 4 != int(self.horizon_h * 4):
            raise ValueError(f"horizon_h: expected a multiple of 0.25 h; found {self.horizon_h}")
        if self.backtest.gap_h >= self.horizon_h:
            raise ValueError(
                f"backtest.gap_h ({self.backtest.gap_h}) must be below horizon_h ({self.horizon_h})"
            )
        return self

    @property
    def horizon_slots(self) -> int:
        return round(self.horizon_h * 4)


class ForecastConfigError(ValueError):
    """A forecasting configuration file is invalid; the message lists every problem."""


def load_forecast_config(path: str | os.PathLike[str] | None = None) -> ForecastConfig:
    """Read and validate a forecasting configuration (YAML); None gives the defaults."""
    if path is None:
        return ForecastConfig()
    file = Path(path)
    try:
        data = load_yaml(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ForecastConfigError(f"{file}: cannot read forecasting config: {exc}") from exc
    if not isinstance(data, dict):
        raise ForecastConfigError(
            f"{file}: expected a mapping at the top level; found {type(data).__name__}"
        )
    try:
        return ForecastConfig.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{file}: {'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']} "
            f"(found {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise ForecastConfigError("invalid forecasting config:\n" + "\n".join(lines)) from exc
