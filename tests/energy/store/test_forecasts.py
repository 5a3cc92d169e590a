"""Store access for forecasts, the model registry and backtests, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from energy.store.forecasts import (
    ModelRecord,
    get_model,
    latest_model,
    list_backtests,
    list_models,
    read_forecast_in_force,
    read_latest_forecast,
    register_model,
    write_backtest,
    write_forecasts,
)

T0 = pd.Timestamp("2026-03-29T00:00Z")


def _issue(issue: pd.Timestamp, version: str, level: float) -> pd.DataFrame:
    valid = pd.date_range(issue, periods=4, freq="15min")
    rows = [
        (
            "district:load_kw",
            version,
            issue,
            v,
            q,
            level + q,
        )
        for v in valid
        for q in (0.1, 0.5, 0.9)
    ]
    return pd.DataFrame(
        rows, columns=["target", "model_version", "issue_time", "valid_time", "quantile", "value"]
    )


def test_latest_forecast_is_the_newest_issue_at_or_before_t(store):
    write_forecasts(store, _issue(T0, "v1", 1.0))
    write_forecasts(store, _issue(T0 + pd.Timedelta(minutes=15), "v1", 2.0))
    at_first = read_latest_forecast(store, "district:load_kw", T0 + pd.Timedelta(minutes=10))
    assert set(at_first["issue_time"]) == {T0}
    assert at_first["value"].min() == pytest.approx(1.1)
    later = read_latest_forecast(store, "district:load_kw", T0 + pd.Timedelta(hours=1))
    assert set(later["issue_time"]) == {T0 + pd.Timedelta(minutes=15)}
    assert len(later) == 12
    assert str(later["valid_time"].dt.tz) == "UTC"
    assert read_latest_forecast(store, "district:load_kw", T0 - pd.Timedelta(minutes=1)).empty


def test_forecast_in_force_is_per_slot_the_newest_issue_at_or_before_it(store):
    quarter = pd.Timedelta(minutes=15)
    write_forecasts(store, _issue(T0, "v1", 1.0))
    write_forecasts(store, _issue(T0 + quarter, "v1", 2.0))
    # an issue made after a slot began never counts for it; one too old is ignored
    write_forecasts(store, _issue(T0 - pd.Timedelta(hours=8), "v1", 9.0))
    wide = read_forecast_in_force(store, ["district:load_kw"], T0 - quarter, T0 + 4 * quarter)
    assert list(wide.columns) == ["district:load_kw"]
    assert list(wide.index) == [T0 + k * quarter for k in range(4)]
    assert str(wide.index.tz) == "UTC"
    assert wide["district:load_kw"].tolist() == pytest.approx([1.5, 2.5, 2.5, 2.5])
    assert read_forecast_in_force(store, ["house-01:load_kw"], T0, T0 + quarter).empty


def test_forecast_rows_are_never_overwritten(store):
    write_forecasts(store, _issue(T0, "v1", 1.0))
    write_forecasts(store, _issue(T0, "v1", 5.0))
    frame = read_latest_forecast(store, "district:load_kw", T0)
    assert frame["value"].max() == pytest.approx(1.9)


def test_write_forecasts_rejects_missing_values(store):
    frame = _issue(T0, "v1", 1.0)
    frame.loc[0, "value"] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        write_forecasts(store, frame)


def _record(version: str, created: dt.datetime, target: str = "district:pv_kw") -> ModelRecord:
    return ModelRecord(
        version=version,
        target=target,
        kind="hist_gradient_boosting",
        created_at=created,
        training_start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        training_end=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        features=["hour_local", "lag_48h"],
        params={"max_iter": 60},
        metrics={"train_mae": 0.5, "undefined": math.nan},
        artifact_path="/tmp/x.joblib",
    )


def test_model_registry_round_trip_and_latest(store):
    early = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    register_model(store, _record("a", early))
    register_model(store, _record("b", early + dt.timedelta(days=7)))
    got = get_model(store, "a")
    assert got is not None
    assert got.training_start == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert got.metrics == {"train_mae": 0.5, "undefined": None}
    assert latest_model(store, "district:pv_kw").version == "b"
    assert latest_model(store, "district:load_kw") is None
    assert list(list_models(store)["version"]) == ["b", "a"]
    with pytest.raises(ValueError, match="already registered"):
        register_model(store, _record("a", early))


def test_backtests_are_stored_and_listed_newest_first(store):
    first = write_backtest(
        store,
        "district:load_kw",
        "a",
        T0,
        T0 + pd.Timedelta(days=30),
        {"gap_h": 12.0},
        {"model": {"mae": 0.3, "skill": math.inf}},
        created_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    second = write_backtest(
        store,
        "district:load_kw",
        "b",
        T0,
        T0 + pd.Timedelta(days=30),
        {"gap_h": 12.0},
        {"model": {"mae": 0.25}},
        created_at=dt.datetime(2026, 2, 2, tzinfo=dt.UTC),
    )
    listed = list_backtests(store, "district:load_kw")
    assert list(listed["id"]) == [second, first]
    assert listed.iloc[1]["metrics"] == {"model": {"mae": 0.3, "skill": None}}
