"""Scheduled retraining: nothing happens without enough measured history; with it, a trained
ForecastService is registered and the planning job forecasts with it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy.control.history import WEATHER_ASSET
from energy.control.planner import (
    BOOTSTRAP_MODEL_VERSION,
    LivePlanner,
    ProfileForecaster,
)
from energy.control.planning import PlanningCycle, PlanningInputError
from energy.control.retrain import retrain_forecaster
from energy.control.state import KEY_QUANTITY
from energy.physics.profiles import district_profiles
from energy.physics.weather_feed import TryWeatherFeed
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.forecasts import list_models, read_latest_forecast
from energy.store.measurements import write_measurements
from energy.timegrid import SLOT
from optimizer import DispatchInputs, DispatchOptimizer

NOW = dt.datetime(2026, 5, 29, 10, 5, tzinfo=dt.UTC)
HORIZON = 8


def _store_history(store: Store, site: Site, start: dt.datetime, end: dt.datetime) -> None:
    """The simulated district's targets and weather as measurements, in the store convention."""
    wide = district_profiles(site, start, end, seed=3)
    rows = []
    for column in wide.columns:
        if ":" in column:
            asset_id, quantity = column.split(":")
        elif column.endswith(("_c", "_w_per_m2")):
            asset_id, quantity = WEATHER_ASSET, column
        else:
            continue
        if quantity in ("space_heat_kw", "hot_water_kw"):
            continue
        part = pd.DataFrame(
            {"asset_id": asset_id, "quantity": quantity, "time": wide.index, "value": wide[column]}
        )
        rows.append(part)
    frame = pd.concat(rows, ignore_index=True)
    frame["quality"] = int(Quality.GOOD)
    write_measurements(store, site.id, frame)


def _state(store: Store, site: Site, at: dt.datetime) -> None:
    rows = [
        (a.id, KEY_QUANTITY[a.kind], at, 50.0 if a.kind.value == "heat_pump" else 0.5, 0)
        for a in site.devices()
    ]
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    write_measurements(store, site.id, frame)


def test_without_enough_history_the_bootstrap_stays(sqlite_store: Store, site: Site) -> None:
    outcome = retrain_forecaster(sqlite_store, site, NOW, 28, 0.9)
    assert outcome.service is None
    assert "0% of the slots of the last 28 days" in outcome.reason
    assert "bootstrap forecaster stays" in outcome.reason


@pytest.mark.slow
def test_a_retrained_service_is_registered_and_used_by_the_planner(
    sqlite_store: Store, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    monkeypatch.setenv("KV_DATA_DIR", str(tmp_path))  # model artifacts
    start = NOW - dt.timedelta(days=29)
    _store_history(store, site, start.replace(minute=0), NOW.replace(minute=0))
    outcome = retrain_forecaster(store, site, NOW, 28, 0.9)
    assert outcome.service is not None, outcome.reason
    assert "house-01:load_kw" in outcome.versions
    assert set(outcome.versions.values()) <= set(list_models(store)["version"])
    cycle = PlanningCycle(
        site, DispatchOptimizer(site, horizon_slots=HORIZON), ProfileForecaster(site, HORIZON)
    )
    planner = LivePlanner(site, store, cycle, TryWeatherFeed(site), stale_after_s=30)
    nowcast = outcome.service.nowcast()
    assert nowcast is not None
    planner.use_forecaster(outcome.service, 28, nowcast)
    _state(store, site, NOW - dt.timedelta(seconds=5))
    planned = planner.run(NOW)
    assert planned.plan is not None
    issued = read_latest_forecast(store, "house-01:load_kw", NOW)
    assert set(issued["model_version"]) == {outcome.versions["house-01:load_kw"]}
    assert BOOTSTRAP_MODEL_VERSION not in set(issued["model_version"])

    # a quarter hour later the slot 10:00 is measured: the next plan corrects its forecast by
    # the error against the forecast that slot was planned with (stored at 10:00)
    later = NOW + dt.timedelta(minutes=15)
    slot = pd.Timestamp(NOW.replace(minute=0))
    _store_history(store, site, slot.to_pydatetime(), (slot + SLOT).to_pydatetime())
    _state(store, site, later - dt.timedelta(seconds=5))
    seen: list[DispatchInputs] = []
    plain_inputs = cycle.inputs

    def spy(*args: object, **kwargs: object) -> DispatchInputs:
        seen.append(plain_inputs(*args, **kwargs))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(cycle, "inputs", spy)
    assert planner.run(later).plan is not None
    target = "house-01:load_kw"
    raw = read_latest_forecast(store, target, later)
    raw = raw[raw["quantile"] == 0.5].set_index("valid_time")["value"]
    in_force = read_latest_forecast(store, target, NOW)
    in_force = in_force[in_force["quantile"] == 0.5].set_index("valid_time")["value"]
    measured = district_profiles(site, slot, slot + SLOT, seed=3)[target].iloc[0]
    correction = nowcast.corrections[target]
    expected = correction.apply(
        raw.loc[slot + SLOT :].to_numpy(), np.array([measured - in_force.loc[slot]])
    )
    np.testing.assert_allclose(seen[-1].load_kw["house-01"], expected[:HORIZON])
    assert not np.allclose(seen[-1].load_kw["house-01"], raw.loc[slot + SLOT :][:HORIZON])


class _Broken:
    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather_forecast: pd.DataFrame
    ) -> pd.DataFrame:
        raise PlanningInputError("history: expected lags up to the issue; found a gap")


def test_a_failing_trained_forecaster_yields_to_the_bootstrap_with_an_alarm(
    sqlite_store: Store, site: Site
) -> None:
    store = sqlite_store
    cycle = PlanningCycle(
        site, DispatchOptimizer(site, horizon_slots=HORIZON), ProfileForecaster(site, HORIZON)
    )
    planner = LivePlanner(site, store, cycle, TryWeatherFeed(site), stale_after_s=30)
    planner.use_forecaster(_Broken(), 28)
    _state(store, site, NOW - dt.timedelta(seconds=5))
    assert planner.run(NOW).plan is not None
    issued = read_latest_forecast(store, "house-01:load_kw", NOW)
    assert set(issued["model_version"]) == {BOOTSTRAP_MODEL_VERSION}
    alarm = next(a for a in list_alarms(store, site.id) if a["code"] == "forecast_fallback")
    assert "found a gap" in alarm["message"]
    assert isinstance(cycle.forecaster, _Broken)  # the trained one is kept for the next issue
