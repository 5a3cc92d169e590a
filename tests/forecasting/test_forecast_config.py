"""The validated forecasting configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from forecasting.config import ForecastConfig, ForecastConfigError, load_forecast_config
from forecasting.models import make_model


def test_defaults_describe_the_issue():
    config = ForecastConfig()
    assert config.horizon_h == 36.0
    assert config.horizon_slots == 144
    assert config.issue_every_min == 15
    assert config.quantiles == [0.1, 0.5, 0.9]


def test_a_lag_shorter_than_the_horizon_is_rejected_as_leakage():
    with pytest.raises(ValidationError, match="known at issue time"):
        ForecastConfig.model_validate({"features": {"lags_h": [24, 168]}})
    assert ForecastConfig.model_validate({"horizon_h": 24, "features": {"lags_h": [24]}})


def test_quantiles_need_the_median_and_order():
    with pytest.raises(ValidationError, match=r"including 0\.5"):
        ForecastConfig(quantiles=[0.1, 0.9])
    with pytest.raises(ValidationError, match="strictly increasing"):
        ForecastConfig(quantiles=[0.9, 0.5, 0.1])


def test_yaml_errors_name_file_key_and_found_value(tmp_path):
    path = tmp_path / "fc.yaml"
    path.write_text("horizon_h: 36\nbacktest:\n  gap_h: -3\nmodel:\n  kind: lstm\n")
    with pytest.raises(ForecastConfigError) as info:
        load_forecast_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "backtest.gap_h" in message
    assert "model.kind" in message
    assert "'lstm'" in message


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "fc.yaml"
    path.write_text("training:\n  window_days: 120\nmodel:\n  params: {max_iter: 20}\n")
    config = load_forecast_config(path)
    assert config.training.window_days == 120
    assert make_model(config.model, config.quantiles).max_iter == 20


def test_unknown_model_parameter_is_an_error_not_ignored():
    config = ForecastConfig.model_validate({"model": {"params": {"max_iters": 10}}})
    with pytest.raises(ValueError, match="max_iters"):
        make_model(config.model, config.quantiles)
