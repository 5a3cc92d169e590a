"""ForecastService: fit, issue, persist and reload; nothing after the issue time is used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.control.model_registry import load_service, save_service
from energy.store.forecasts import list_models, read_latest_forecast, write_forecasts
from forecasting.config import ForecastConfig, TrainingConfig
from forecasting.service import FORECAST_COLUMNS, ForecastService
from forecasting.weather_error import simulate_weather_forecast

TARGETS = ["house-01:load_kw", "district:load_kw", "district:heat_demand_kw", "district:pv_kw"]
ISSUE = pd.Timestamp("2025-02-20T11:00Z")
FAST = {"model": {"params": {"max_iter": 15}}}


@pytest.fixture(scope="module")
def fitted(site, district_winter):
    config = ForecastConfig.model_validate(FAST)
    history = district_winter.loc[: ISSUE - pd.Timedelta(minutes=15)]
    return ForecastService(site, config, TARGETS).fit(history)


def _weather(data: pd.DataFrame, config: ForecastConfig) -> pd.DataFrame:
    return simulate_weather_forecast(data, ISSUE, config.horizon_slots, config.weather_error)


def test_issue_covers_every_target_slot_and_quantile(fitted, district_winter):
    frame = fitted.predict(ISSUE, district_winter, _weather(district_winter, fitted.config))
    assert list(frame.columns) == FORECAST_COLUMNS
    assert len(frame) == len(TARGETS) * 144 * 3
    assert set(frame["target"]) == set(TARGETS)
    assert frame["valid_time"].min() == ISSUE
    assert frame["valid_time"].max() == ISSUE + pd.Timedelta(hours=36) - pd.Timedelta(minutes=15)
    assert (frame["issue_time"] == ISSUE).all()
    wide = frame.pivot_table(index=["target", "valid_time"], columns="quantile", values="value")
    assert (wide[0.1] <= wide[0.5]).all()
    assert (wide[0.5] <= wide[0.9]).all()
    assert (frame["value"] >= 0).all()


def test_pv_is_zero_at_night(fitted, district_winter):
    frame = fitted.predict(ISSUE, district_winter, _weather(district_winter, fitted.config))
    pv = frame[frame["target"] == "district:pv_kw"]
    night = pv[pv["valid_time"].dt.hour.isin([22, 23, 0, 1, 2, 3])]
    assert (night["value"] == 0).all()
    assert pv["value"].max() > 0


def test_history_after_the_issue_cannot_change_the_forecast(fitted, district_winter):
    weather = _weather(district_winter, fitted.config)
    clean = fitted.predict(ISSUE, district_winter, weather)
    tampered = district_winter.copy()
    after = tampered.index >= ISSUE
    tampered.loc[after] = tampered.loc[after] * 5 + 100
    again = fitted.predict(ISSUE, tampered, weather)
    pd.testing.assert_frame_equal(clean, again)


def test_predict_needs_a_fitted_service(site, district_winter):
    with pytest.raises(RuntimeError, match="not fitted"):
        ForecastService(site).predict(ISSUE, district_winter, district_winter)


def test_unknown_target_is_named(site):
    with pytest.raises(KeyError, match="house-99"):
        ForecastService(site, targets=["house-99:load_kw"])


def test_models_round_trip_through_registry_and_store(
    fitted, site, store, tmp_path, district_winter
):
    versions = save_service(fitted, store, tmp_path / "models")
    assert set(versions) == set(TARGETS)
    assert all((tmp_path / "models" / f"{v}.joblib").exists() for v in versions.values())
    registered = list_models(store)
    assert set(registered["target"]) == set(TARGETS)
    loaded = load_service(site, store, targets=TARGETS)
    weather = _weather(district_winter, fitted.config)
    original = fitted.predict(ISSUE, district_winter, weather)
    reloaded = loaded.predict(ISSUE, district_winter, weather)
    pd.testing.assert_frame_equal(original, reloaded)
    assert loaded.nowcast() == fitted.nowcast()
    assert set(reloaded["model_version"]) == set(versions.values())
    write_forecasts(store, reloaded)
    latest = read_latest_forecast(store, "district:load_kw", ISSUE + pd.Timedelta(minutes=20))
    assert len(latest) == 144 * 3
    expected = reloaded[reloaded["target"] == "district:load_kw"]["value"].to_numpy()
    assert np.allclose(np.sort(latest["value"].to_numpy()), np.sort(expected))
    with pytest.raises(KeyError, match="nope"):
        load_service(site, store, versions=["nope"])


def test_fit_estimates_a_nowcast_for_the_configured_kinds(fitted, site, district_winter):
    nowcast = fitted.nowcast()
    assert nowcast is not None
    assert set(nowcast.corrections) == set(TARGETS)
    for name, correction in nowcast.corrections.items():
        assert len(correction.gains) == fitted.config.nowcast.max_lead_slots
        assert all(0.0 <= g <= 1.0 for g in correction.gains)
        assert fitted.models[name].metrics["nowcast_gain_first_slot"] == correction.gains[0]
    # a forecast error persists: the first slot's gain is substantial for load and PV
    assert nowcast.corrections["district:pv_kw"].gains[0] > 0.5
    assert nowcast.corrections["house-01:load_kw"].gains[0] > 0.3
    history = district_winter.loc[: ISSUE - pd.Timedelta(minutes=15)]
    only_pv = ForecastConfig.model_validate({**FAST, "nowcast": {"kinds": ["pv"]}})
    service = ForecastService(site, only_pv, TARGETS).fit(history)
    assert set(service.nowcast().corrections) == {"district:pv_kw"}
    off = ForecastConfig.model_validate({**FAST, "nowcast": {"enabled": False}})
    assert ForecastService(site, off, TARGETS).fit(history).nowcast() is None


def test_refit_is_due_after_the_configured_cadence(fitted, site):
    end = fitted.models["district:load_kw"].training_end
    assert fitted.refit_due(end + pd.Timedelta(days=1)) == []
    assert set(fitted.refit_due(end + pd.Timedelta(days=7))) == set(TARGETS)
    assert ForecastService(site, targets=["district:pv_kw"]).refit_due(end) == ["district:pv_kw"]


def test_a_short_weather_forecast_is_logged_not_fatal(fitted, district_winter, caplog):
    weather = _weather(district_winter, fitted.config).iloc[:48]
    with caplog.at_level("WARNING", logger="forecasting.service"):
        frame = fitted.predict(ISSUE, district_winter, weather)
    assert "covers 48 of 144 slots" in caplog.text
    assert len(frame) == len(TARGETS) * 144 * 3
    assert frame["value"].notna().all()


def test_conformal_offsets_widen_an_interval_that_is_too_narrow():
    from types import SimpleNamespace

    from forecasting.service import conformal_offsets

    rng = np.random.default_rng(0)
    actual = rng.normal(0.0, 1.0, 2000)
    narrow = np.column_stack([np.full(2000, -0.5), np.zeros(2000), np.full(2000, 0.5)])
    previous = SimpleNamespace(model=SimpleNamespace(predict_quantiles=lambda _x: narrow))
    quantiles = np.array([0.1, 0.5, 0.9])
    features = np.zeros((2000, 1))
    for widen_only in (True, False):
        low, high = conformal_offsets(previous, features, actual, quantiles, widen_only)
        # N(0, 1) has its 10/90 % quantiles at -/+1.28: the interval must grow by about 0.78 a side
        assert low == pytest.approx(0.78, abs=0.1)
        assert high == pytest.approx(0.78, abs=0.1)
    assert conformal_offsets(previous, features[:10], actual[:10], quantiles, True) is None
    wide = narrow * 10
    previous = SimpleNamespace(model=SimpleNamespace(predict_quantiles=lambda _x: wide))
    assert conformal_offsets(previous, features, actual, quantiles, widen_only=True) == (0, 0)
    # residuals under forecast weather may also narrow: 5 - 1.28 = 3.72 too wide a side
    low, high = conformal_offsets(previous, features, actual, quantiles, widen_only=False)
    assert low == pytest.approx(-3.72, abs=0.1)
    assert high == pytest.approx(-3.72, abs=0.1)


def test_refitting_calibrates_on_the_replaced_models_new_data(fitted, site, district_winter):
    later = district_winter.loc[: ISSUE + pd.Timedelta(days=14)]
    refit = ForecastService(site, fitted.config, TARGETS)
    refit.models = dict(fitted.models)
    refit.fit(later)
    assert "conformal_low_kw" in refit.models["district:load_kw"].metrics
    assert fitted.models["district:load_kw"].interval_offsets == (0.0, 0.0)
    # calibrated on the weather the day-ahead forecasts saw (not the measured temperature the
    # training rows have): other residuals, which may also narrow the interval
    measured = ForecastService(
        site,
        fitted.config.model_copy(update={"training": TrainingConfig(weather="actual")}),
        TARGETS,
    )
    measured.models = dict(fitted.models)
    measured.fit(later)
    heat = "district:heat_demand_kw"
    assert min(measured.models[heat].interval_offsets) >= 0.0
    assert refit.models[heat].interval_offsets != measured.models[heat].interval_offsets
