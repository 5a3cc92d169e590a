"""Infeasible inputs give a plan with reported violations; solver failures walk the fallback chain."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pytest

from energy.site import load_site
from energy.thermal import heat_pump_cop_at_tank
from energy.timegrid import local_day_slots
from optimizer import (
    GRID_ID,
    DispatchOptimizer,
    DispatchState,
    OptimizerOptions,
    PlanStatus,
    SolveStage,
    rule_based_plan,
    synthetic_inputs,
)
from optimizer.highs_backend import SolverError
from tests.optimizer.conftest import (
    balance_residual,
    battery,
    battery_energy_residual,
    heat_pump,
    make_inputs,
    make_site,
    tank,
)


@pytest.fixture(scope="module")
def small_site():
    return make_site(
        [
            {
                "id": "h1",
                "battery": battery(
                    soc_min_frac=0.1,
                    soc_max_frac=0.9,
                    initial_soc_frac=0.5,
                    charge_max_kw=2.0,
                    discharge_max_kw=2.0,
                    charge_efficiency_frac=0.95,
                    discharge_efficiency_frac=0.95,
                ),
                "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 180},
                "heat_pump": heat_pump(
                    electric_max_kw=2.0,
                    thermal_max_kw=9.0,
                    electric_min_kw=0.5,
                    min_on_minutes=30,
                    min_off_minutes=30,
                ),
                "tank": tank(initial_temp_c=45.0),
            },
        ],
        grid={"import_limit_kw": 20.0, "export_limit_kw": 20.0},
    )


def violated(result, limit):
    return [v for v in result.violations if v.limit == limit]


def test_initial_soc_below_its_bound_gives_a_plan_and_a_report(small_site):
    inputs = make_inputs(small_site, 8, load={"h1": 1.0}, heat={"h1": 1.0})
    state = DispatchState(soc_frac={"h1.battery": 0.02})
    result = DispatchOptimizer(small_site, horizon_slots=8).solve(inputs, state)

    assert result.status == PlanStatus.OPTIMAL
    [initial] = violated(result, "initial_soc_outside_bounds")
    assert initial.asset_id == "h1.battery"
    assert initial.max_amount == pytest.approx(0.08)
    # 2 kW x 0.25 h x 0.95 = 0.475 kWh per slot: 0.8 kWh short needs two slots to recover
    [low] = violated(result, "battery_soc_min")
    assert low.first_slot == inputs.index[0]
    assert low.max_amount == pytest.approx(1.0 - 0.2 - 0.475, abs=1e-6)
    assert result.summary.violations[0].limit in {
        "battery_soc_min",
        "initial_soc_outside_bounds",
    }
    np.testing.assert_allclose(balance_residual(small_site, inputs, result), 0.0, atol=1e-7)
    # a battery resting at its minimum drifts below it on standby: within the reading's
    # tolerance, not reported
    soc_min = small_site.asset("h1.battery").params.soc_min_frac
    held = DispatchState(
        soc_frac={"h1.battery": soc_min - 0.005}, tank_temp_c={"h1.tank": 40 - 1e-9}
    )
    result = DispatchOptimizer(small_site, horizon_slots=8).solve(inputs, held)
    assert not violated(result, "initial_soc_outside_bounds")
    assert not violated(result, "initial_tank_temp_outside_bounds")


def test_heat_demand_above_heat_pump_capacity_reports_the_tank_shortfall(small_site):
    # 12 kW heat demand, more than the heat pump can make: the rest is short in every slot
    inputs = make_inputs(small_site, 4, load={"h1": 1.0}, heat={"h1": 12.0})
    state = DispatchState(tank_temp_c={"h1.tank": 40.0})
    result = DispatchOptimizer(small_site, horizon_slots=4).solve(inputs, state)

    hp = small_site.asset("h1.hp").params
    # the tank stays below the supply temperature: the unit runs at the supply's COP
    heat_max_kw = min(
        hp.thermal_max_kw, hp.electric_max_kw * float(heat_pump_cop_at_tank(hp, 5.0, 40.0))
    )
    assert heat_max_kw < 12.0
    assert result.status == PlanStatus.OPTIMAL
    [short] = violated(result, "tank_temp_min")
    capacity = 200 * 4.186 / 3600
    assert short.n_slots == 4
    assert short.max_amount == pytest.approx(4 * (12.0 - heat_max_kw) * 0.25 / capacity, rel=1e-6)
    np.testing.assert_allclose(result.values[("h1.hp", "heat_kw")], heat_max_kw, atol=1e-6)


def test_load_above_the_connection_limit_reports_the_excess(small_site):
    inputs = make_inputs(small_site, 4, load={"h1": 30.0}, heat={"h1": 0.0})
    result = DispatchOptimizer(small_site, horizon_slots=4).solve(inputs)
    [excess] = violated(result, "grid_import_limit")
    # the battery covers 2 kW of the 10 kW excess in every slot (it holds 4 kWh above minimum)
    assert excess.max_amount == pytest.approx(8.0, abs=1e-6)
    assert excess.n_slots == 4
    np.testing.assert_allclose(balance_residual(small_site, inputs, result), 0.0, atol=1e-7)


@pytest.mark.parametrize(
    ("day", "slots"),
    [(dt.date(2026, 3, 29), 92), (dt.date(2026, 10, 25), 100), (dt.date(2026, 6, 1), 96)],
)
def test_dst_day_horizons(small_site, day, slots):
    index = local_day_slots(day, "Europe/Berlin")
    assert len(index) == slots
    inputs = make_inputs(
        small_site,
        slots,
        load={"h1": 1.0},
        heat={"h1": 1.0},
        price=np.linspace(0.1, 0.4, slots),
        index=index,
    )
    result = DispatchOptimizer(small_site, horizon_slots=slots).solve(inputs)
    assert result.status == PlanStatus.OPTIMAL
    assert result.index.equals(index)
    assert len(result.wide()) == slots
    assert result.summary.n_slots == slots
    np.testing.assert_allclose(balance_residual(small_site, inputs, result), 0.0, atol=1e-7)


def test_default_klimaviertel_on_the_long_dst_day():
    site = load_site()
    index = local_day_slots(dt.date(2026, 10, 25), site.tz)
    inputs = synthetic_inputs(site, index[0], len(index), seed=1)
    result = DispatchOptimizer(site, horizon_slots=len(index)).solve(inputs)
    assert result.status == PlanStatus.OPTIMAL
    np.testing.assert_allclose(balance_residual(site, inputs, result), 0.0, atol=1e-6)


def failing_run(calls):
    def run(relax=False):
        calls.append(relax)
        raise SolverError("injected failure")

    return run


def test_solver_failure_without_previous_plan_falls_back_to_rules(small_site, monkeypatch, caplog):
    optimizer = DispatchOptimizer(small_site, horizon_slots=8)
    calls = []
    monkeypatch.setattr(optimizer.backend, "run", failing_run(calls))
    inputs = make_inputs(small_site, 8, load={"h1": 1.0}, heat={"h1": 1.0}, pv={"h1.pv": 3.0})
    with caplog.at_level(logging.WARNING, logger="optimizer"):
        result = optimizer.solve(inputs)

    assert result.status == PlanStatus.FALLBACK
    assert result.stage == SolveStage.RULE_BASED
    assert [(s.stage, s.outcome) for s in result.summary.fallback] == [
        ("lp", "failed"),
        ("shifted_previous", "failed"),
        ("rule_based", "used"),
    ]
    assert "injected failure" in result.summary.fallback[0].reason
    assert "injected failure" in caplog.text
    assert calls == [False]
    np.testing.assert_allclose(balance_residual(small_site, inputs, result), 0.0, atol=1e-9)
    assert battery_energy_residual(small_site, {"h1.battery": 0.5}, result) < 1e-9


def test_solver_failure_after_a_good_plan_shifts_the_previous_plan(small_site, monkeypatch):
    optimizer = DispatchOptimizer(small_site, horizon_slots=8)
    prices = [0.1, 0.1, 0.4, 0.4, 0.1, 0.1, 0.4, 0.4, 0.4, 0.4]
    first = make_inputs(small_site, 10, price=prices, load={"h1": 1.0}, heat={"h1": 1.0})
    good = optimizer.solve(first.window(0, 8))
    assert good.stage == SolveStage.LP

    monkeypatch.setattr(optimizer.backend, "run", failing_run([]))
    following = first.window(1, 8)
    state = DispatchState(
        soc_frac={"h1.battery": float(good.values[("h1.battery", "soc_end_frac")][0])},
        tank_temp_c={"h1.tank": float(good.values[("h1.tank", "temp_end_c")][0])},
    )
    shifted = optimizer.solve(following, state)

    assert shifted.stage == SolveStage.SHIFTED_PREVIOUS
    assert "7 of 8 slots" in shifted.summary.fallback[1].reason
    np.testing.assert_allclose(
        shifted.values[("h1.battery", "power_kw")][:7],
        good.values[("h1.battery", "power_kw")][1:],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        shifted.values[("h1.hp", "power_kw")][:7], good.values[("h1.hp", "power_kw")][1:], atol=1e-6
    )
    np.testing.assert_allclose(balance_residual(small_site, following, shifted), 0.0, atol=1e-9)
    # a second failure falls back to the last plan a solver made, now two slots on
    again = optimizer.solve(first.window(2, 8), state)
    assert again.stage == SolveStage.SHIFTED_PREVIOUS
    assert "6 of 8 slots" in again.summary.fallback[1].reason
    np.testing.assert_allclose(
        again.values[("h1.battery", "power_kw")][:6],
        good.values[("h1.battery", "power_kw")][2:],
        atol=1e-6,
    )


def test_milp_failure_falls_back_to_its_lp_relaxation(small_site, monkeypatch):
    optimizer = DispatchOptimizer(
        small_site, options=OptimizerOptions(horizon_slots=8, heat_pump_on_off=True)
    )
    original = optimizer.backend.run
    calls = []

    def run(relax=False):
        calls.append(relax)
        if not relax:
            raise SolverError("injected MILP failure")
        return original(relax=True)

    monkeypatch.setattr(optimizer.backend, "run", run)
    inputs = make_inputs(small_site, 8, load={"h1": 1.0}, heat={"h1": 1.0})
    result = optimizer.solve(inputs)
    # the MILP start heuristic solves relaxations first; then the MILP fails, then its relaxation
    assert calls.count(False) == 1
    assert calls[-2:] == [False, True]
    assert result.stage == SolveStage.LP_RELAXATION
    assert result.status == PlanStatus.FALLBACK
    assert result.summary.duals_available
    # integrality is restored for the next cycle
    assert optimizer.backend.is_mip


def test_time_limit_without_a_solution_is_a_failure_not_a_plan(small_site):
    optimizer = DispatchOptimizer(
        small_site, options=OptimizerOptions(horizon_slots=96, time_limit_s=1e-9)
    )
    inputs = make_inputs(small_site, 96, load={"h1": 1.0}, heat={"h1": 1.0})
    result = optimizer.solve(inputs)
    assert result.stage == SolveStage.RULE_BASED
    assert "Time limit" in result.summary.fallback[0].reason


def test_rule_based_plan_keeps_device_limits(small_site):
    inputs = make_inputs(
        small_site,
        16,
        load={"h1": np.linspace(0, 6, 16)},
        pv={"h1.pv": np.linspace(5, 0, 16)},
        heat={"h1": 2.0},
    )
    result = rule_based_plan(small_site, inputs, DispatchState(soc_frac={"h1.battery": 0.5}))
    power = result.values[("h1.battery", "power_kw")]
    soc = result.values[("h1.battery", "soc_end_frac")]
    assert power.max() <= 2.0 + 1e-9
    assert power.min() >= -2.0 - 1e-9
    assert soc.min() >= 0.1 - 1e-9
    assert soc.max() <= 0.9 + 1e-9
    hp = result.values[("h1.hp", "power_kw")]
    assert np.all((hp == 0) | ((hp >= 0.5 - 1e-9) & (hp <= 2.0 + 1e-9)))
    np.testing.assert_allclose(balance_residual(small_site, inputs, result), 0.0, atol=1e-9)
    assert battery_energy_residual(small_site, {"h1.battery": 0.5}, result) < 1e-9
    assert result.summary.stage == "rule_based"
    assert GRID_ID in set(result.plan["asset_id"])


def test_time_limit_applies_to_each_solve_not_to_the_sum_of_all():
    # HiGHS's run clock accumulates over the runs of one instance; an MPC loop makes thousands
    site = load_site()
    optimizer = DispatchOptimizer(
        site, options=OptimizerOptions(horizon_slots=96, time_limit_s=1.0)
    )
    inputs = synthetic_inputs(site, "2026-01-20T00:00:00Z", 97, seed=5)
    solves = 0
    while optimizer.backend.highs.getRunTime() < 1.5 and solves < 400:
        result = optimizer.solve(inputs.window(solves % 2, 96))
        assert result.stage == SolveStage.LP, result.summary.fallback
        solves += 1
    assert optimizer.backend.highs.getRunTime() >= 1.5
