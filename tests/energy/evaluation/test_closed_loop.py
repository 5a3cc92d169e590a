"""The closed loop on the simulated district: conservation, commands reaching devices, no
future leakage, cadence of forecasts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from energy.control.commands import CommandKind, DeviceCommand
from energy.evaluation import EvaluationOptions, Policy, evaluate, run_policy
from energy.evaluation.devices import apply_commands
from energy.evaluation.forecasts import ForecastOracle, IssuedForecasts, LatestForecast
from energy.evaluation.tracking import plan_tracking
from energy.physics.district import DistrictSimulator
from energy.physics.profiles import district_profiles
from energy.physics.readings import ControlMode
from energy.site import Site
from energy.timegrid import SLOT
from forecasting.config import ForecastConfig

START = pd.Timestamp("2026-02-02T00:00:00Z")


def balance_error_kwh(slots: pd.DataFrame) -> float:
    """import - export - (load + heat pumps + EV charging + battery charging - discharging -
    PV), summed."""
    total = slots.sum(numeric_only=True)
    consumed = (
        total["load_kwh"]
        + total["hp_electric_kwh"]
        + total["ev_charging_kwh"]
        + total["battery_charged_kwh"]
        - total["battery_discharged_kwh"]
        - total["pv_kwh"]
    )
    return float(total["grid_import_kwh"] - total["grid_export_kwh"] - consumed)


def test_rule_runs_local_modes_and_conserves_energy(site: Site) -> None:
    run = run_policy(site, Policy.RULE, START, START + pd.Timedelta(hours=12))
    assert len(run.slots) == 48
    assert run.plan_stages == {}
    assert "plan_stage" not in run.slots
    assert abs(balance_error_kwh(run.slots)) < 1e-6
    assert (run.slots["grid_import_kwh"] >= 0).all()
    assert run.slots["load_kwh"].sum() > 0


def test_perfect_plans_every_slot_and_drives_the_devices(site: Site) -> None:
    options = EvaluationOptions(horizon_slots=8)
    end = START + pd.Timedelta(hours=4)
    perfect = run_policy(site, Policy.PERFECT_FORECAST, START, end, options)
    rule = run_policy(site, Policy.RULE, START, end, options)
    assert len(perfect.slots) == 16
    assert sum(perfect.plan_stages.values()) == 16
    assert set(perfect.plan_stages) <= {"lp", "milp"}
    assert abs(balance_error_kwh(perfect.slots)) < 1e-6
    # the same world: exogenous series identical, the controlled ones not
    np.testing.assert_allclose(perfect.slots["load_kwh"], rule.slots["load_kwh"])
    assert not np.allclose(
        perfect.slots["battery_discharged_kwh"], rule.slots["battery_discharged_kwh"]
    )


def test_apply_commands_reaches_each_kind_of_device(site: Site) -> None:
    sim = DistrictSimulator(site, START)
    commands = [
        DeviceCommand("house-01.battery", CommandKind.BATTERY_POWER_KW, 1.0),
        DeviceCommand("house-01.hp", CommandKind.HEAT_PUMP_POWER_KW, 1.5),
        DeviceCommand("house-02.hp", CommandKind.SG_READY_STATE, 1.0),
        DeviceCommand("house-01.pv", CommandKind.PV_LIMIT_KW, 2.0),
        DeviceCommand("house-03.battery", CommandKind.RELEASE_TO_LOCAL, None),
    ]
    assert apply_commands(sim, commands, timeout_s=1800) == 4
    sim.advance(600)
    snap = sim.snapshot()
    assert snap.batteries["house-01.battery"].setpoint_kw == 1.0
    assert snap.batteries["house-01.battery"].mode == ControlMode.REMOTE
    assert snap.heat_pumps["house-01.hp"].setpoint_kw == 1.5
    assert snap.heat_pumps["house-02.hp"].sg_ready_state == 1
    assert snap.pv["house-01.pv"].limit_kw == 2.0
    assert snap.batteries["house-03.battery"].mode == ControlMode.LOCAL


class StubService:
    """Stands in for a fitted ForecastService; records what each issue was given and forecasts
    one target at a level that names its issue (minutes after START)."""

    def __init__(self) -> None:
        self.config = ForecastConfig(quantiles=[0.5])
        self.targets = [SimpleNamespace(name="house-01:load_kw")]
        self.calls: list[tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame]] = []

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather: pd.DataFrame
    ) -> pd.DataFrame:
        self.calls.append((issue_time, history.index[-1], weather))
        valid = pd.date_range(issue_time, periods=self.config.horizon_slots, freq=SLOT)
        return pd.DataFrame(
            {
                "target": "house-01:load_kw",
                "issue_time": issue_time,
                "valid_time": valid,
                "quantile": 0.5,
                "value": (issue_time - START) / pd.Timedelta(minutes=1),
            }
        )


def test_issued_forecasts_follow_the_cadence_and_never_see_the_future(site: Site) -> None:
    realised = district_profiles(site, START - pd.Timedelta(days=2), START + pd.Timedelta(days=3))
    service = StubService()
    issued = IssuedForecasts(service, realised, every_slots=4)  # type: ignore[arg-type]
    first = START + 2 * SLOT  # not on the hourly grid: the first call issues at once
    slots = pd.date_range(first, periods=10, freq=SLOT)  # up to 02:45
    frames = [LatestForecast(issued).predict(t, realised, realised) for t in slots]
    issue_times = [c[0] for c in service.calls]
    assert issue_times == [first, START + pd.Timedelta(hours=1), START + pd.Timedelta(hours=2)]
    for issue, last_seen, weather in service.calls:
        assert last_seen == issue - SLOT, "history ends before the issue"
        assert weather.index[0] == issue
        assert len(weather) == service.config.horizon_slots
        assert not np.allclose(
            weather["temp_outdoor_c"], realised["temp_outdoor_c"].reindex(weather.index)
        ), "the weather forecast has an error"
    assert frames[0]["issue_time"].iloc[0] == first
    assert frames[-1]["issue_time"].iloc[-1] == START + pd.Timedelta(hours=2)
    assert issued.issues == 3


def test_in_force_is_the_issue_each_past_slot_was_planned_with(site: Site) -> None:
    realised = district_profiles(site, START - pd.Timedelta(days=2), START + pd.Timedelta(days=3))
    issued = IssuedForecasts(StubService(), realised, every_slots=4)  # type: ignore[arg-type]
    for t in pd.date_range(START, periods=7, freq=SLOT):  # issues at 00:00 and 01:00
        issued.at(t)
    recent = issued.in_force(START + 6 * SLOT, 8)
    assert list(recent.columns) == ["house-01:load_kw"]
    assert list(recent.index) == list(pd.date_range(START - 2 * SLOT, periods=8, freq=SLOT))
    # nothing before the first issue; 00:00-00:45 planned with it, 01:00-01:15 with the next
    np.testing.assert_array_equal(recent["house-01:load_kw"], [np.nan, np.nan, 0, 0, 0, 0, 60, 60])


class ConstantForecaster:
    """Forecasts -1 for a house's load and PV over 8 slots."""

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather: pd.DataFrame
    ) -> pd.DataFrame:
        valid = pd.date_range(issue_time, periods=8, freq=SLOT)
        return pd.concat(
            pd.DataFrame({"target": t, "valid_time": valid, "quantile": 0.5, "value": -1.0})
            for t in ("house-01:load_kw", "house-01.pv:pv_kw")
        ).reset_index(drop=True)


def test_forecast_oracle_puts_realised_values_where_it_is_told(site: Site) -> None:
    realised = district_profiles(site, START, START + pd.Timedelta(days=1))
    oracle = ForecastOracle(kinds=("load",), slots=2)
    frame = oracle.wrap(ConstantForecaster(), realised).predict(START, realised, realised)
    load = frame[frame["target"] == "house-01:load_kw"]["value"].to_numpy()
    np.testing.assert_allclose(load[:2], realised["house-01:load_kw"].iloc[:2])
    assert (load[2:] == -1.0).all()
    assert (frame[frame["target"] == "house-01.pv:pv_kw"]["value"] == -1.0).all()
    with pytest.raises(ValueError, match="kinds"):
        ForecastOracle(kinds=("wind",))
    with pytest.raises(ValueError, match="slots"):
        ForecastOracle(kinds=("pv",), slots=0)


def test_options_refuse_a_cadence_the_forecast_horizon_cannot_cover() -> None:
    with pytest.raises(ValueError, match="forecast horizon"):
        EvaluationOptions(horizon_slots=96, forecast_every_slots=60)
    with pytest.raises(ValueError, match="training_days"):
        EvaluationOptions(training_days=3)


@pytest.mark.slow
def test_mpc_trains_before_the_period_and_plans_every_slot(site: Site) -> None:
    options = EvaluationOptions(horizon_slots=8, forecast_every_slots=8, training_days=14)
    run = run_policy(site, Policy.MPC, START, START + pd.Timedelta(hours=4), options)
    assert sum(run.plan_stages.values()) == 16
    assert run.forecast_issues == 2
    assert abs(balance_error_kwh(run.slots)) < 1e-6


def test_evaluate_compares_policies_over_the_same_world(site: Site) -> None:
    report = evaluate(
        site,
        START,
        START + pd.Timedelta(hours=2),
        ["rule", "perfect-forecast", "rule"],
        EvaluationOptions(horizon_slots=4),
    )
    assert list(report.summary["policies"]) == ["rule", "perfect-forecast"]
    totals = report.totals().set_index("policy")
    assert totals.loc["rule", "load_kwh"] == pytest.approx(
        totals.loc["perfect-forecast", "load_kwh"]
    )
    assert set(report.summary["comparison"]["saving_vs_rule_eur"]) == {"perfect-forecast"}
    assert report.summary["options"]["horizon_slots"] == 4


def test_perfect_is_an_old_name_of_perfect_forecast_and_warns() -> None:
    with pytest.warns(FutureWarning, match="perfect-forecast"):
        assert Policy("perfect") is Policy.PERFECT_FORECAST
    with pytest.raises(ValueError, match="bogus"):
        Policy("bogus")


@pytest.mark.slow
def test_balancing_holds_the_grid_exchange_closer_to_the_plan(site: Site) -> None:
    """The same forecasts and world with and without the balancing loop between plans: with it
    the batteries on setpoints take part of the forecast error, so the metered exchange at the
    connection lies closer to the planned one."""
    start = pd.Timestamp("2026-07-02T16:00:00Z")
    end = start + pd.Timedelta(hours=8)
    deviation = {}
    for balancing in (False, True):
        options = EvaluationOptions(
            horizon_slots=16, forecast_every_slots=8, training_days=14, balancing=balancing
        )
        run = run_policy(site, Policy.MPC, start, end, options)
        assert abs(balance_error_kwh(run.slots)) < 1e-6
        grid = plan_tracking(run.slots)["grid_exchange"]
        deviation[balancing] = grid["mean_abs_deviation_kwh_per_slot"]
    assert deviation[True] < deviation[False]
