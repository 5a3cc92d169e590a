"""Simulated weather forecasts: seeded, growing with lead time, physically bounded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.config import WeatherErrorConfig
from forecasting.weather_error import simulate_weather_forecast


def _actual() -> pd.DataFrame:
    index = pd.date_range("2025-01-01T00:00Z", periods=96 * 60, freq="15min")
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60
    ghi = np.clip(400 * np.sin((hour - 7) / 10 * np.pi), 0, None)
    return pd.DataFrame(
        {"temp_outdoor_c": 5.0 + np.zeros(len(index)), "ghi_w_per_m2": ghi}, index=index
    )


def test_same_issue_same_forecast_and_disabled_is_perfect():
    actual = _actual()
    issue = pd.Timestamp("2025-01-10T11:00Z")
    config = WeatherErrorConfig(seed=3)
    a = simulate_weather_forecast(actual, issue, 144, config)
    b = simulate_weather_forecast(actual, issue, 144, config)
    pd.testing.assert_frame_equal(a, b)
    other = simulate_weather_forecast(actual, issue, 144, WeatherErrorConfig(seed=4))
    assert not a.equals(other)
    perfect = simulate_weather_forecast(actual, issue, 144, WeatherErrorConfig(enabled=False))
    pd.testing.assert_frame_equal(perfect, actual.loc[issue : issue + pd.Timedelta("35h45min")])


def test_error_grows_with_lead_time_and_night_stays_dark():
    actual = _actual()
    config = WeatherErrorConfig()
    errors = []
    for day in range(40):
        issue = pd.Timestamp("2025-01-02T11:00Z") + pd.Timedelta(days=day)
        fc = simulate_weather_forecast(actual, issue, 144, config)
        errors.append(
            (fc["temp_outdoor_c"] - actual["temp_outdoor_c"].reindex(fc.index)).to_numpy()
        )
        assert (fc["ghi_w_per_m2"][actual["ghi_w_per_m2"].reindex(fc.index) == 0] == 0).all()
        assert (fc["ghi_w_per_m2"] >= 0).all()
    spread = np.std(np.array(errors), axis=0)
    assert spread[:8].mean() < spread[-8:].mean()
    assert 1.0 < spread[-8:].mean() < 3.0


def test_day_ahead_training_weather_perturbs_irradiance_only(site):
    from forecasting.config import ForecastConfig
    from forecasting.weather_error import day_ahead_weather

    actual = _actual()
    out = day_ahead_weather(actual, ForecastConfig(), site.config.location)
    pd.testing.assert_series_equal(out["temp_outdoor_c"], actual["temp_outdoor_c"])
    changed = out["ghi_w_per_m2"] != actual["ghi_w_per_m2"]
    assert changed.mean() > 0.3
    assert (out["ghi_w_per_m2"][actual["ghi_w_per_m2"] == 0] == 0).all()
    again = day_ahead_weather(actual, ForecastConfig(), site.config.location)
    pd.testing.assert_frame_equal(out, again)
    off = ForecastConfig.model_validate({"weather_error": {"enabled": False}})
    pd.testing.assert_frame_equal(day_ahead_weather(actual, off, site.config.location), actual)


def test_day_ahead_issue_weather_is_what_each_days_issue_saw(site):
    from forecasting.config import ForecastConfig
    from forecasting.features import issue_weather, training_weather
    from forecasting.weather_error import day_ahead_issue_weather

    actual = _actual()
    actual["temp_outdoor_c"] = 5.0 + np.sin(np.arange(len(actual)) / 40.0)
    config = ForecastConfig()
    location = site.config.location
    start = pd.Timestamp("2025-01-20T00:00Z")
    out = day_ahead_issue_weather(actual, config, location, start)
    assert out.index[0] == pd.Timestamp("2025-01-19T23:00Z")  # local midnight of 20 January
    # 21 January (CET) as forecast at 12:00 local on the 20th, smoothing from the measured state
    issue = pd.Timestamp("2025-01-20T11:00Z")
    forecast = simulate_weather_forecast(actual, issue, 144, config.weather_error)
    taus = config.features.temp_smoothing_h
    expected = issue_weather(training_weather(actual, taus), forecast, issue, taus)
    day = slice(pd.Timestamp("2025-01-20T23:00Z"), pd.Timestamp("2025-01-21T22:45Z"))
    pd.testing.assert_frame_equal(out.loc[day], expected.loc[day], check_freq=False)
    assert (out.loc[day, "temp_outdoor_c"] != actual.loc[day, "temp_outdoor_c"]).all()
    assert (
        day_ahead_issue_weather(actual, ForecastConfig(weather_error={"enabled": False}), location)
        is None
    )
