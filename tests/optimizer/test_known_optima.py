"""Cases whose optimum is worked out by hand; the optimizer must find exactly that."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from energy.config import HeatPumpConfig, TankConfig
from energy.thermal import heat_pump_cop_at_tank, tank_capacity_kwh_per_k
from optimizer import GRID_ID, DispatchOptimizer, DispatchState, OptimizerOptions, PlanStatus
from tests.optimizer.conftest import (
    balance_residual,
    battery,
    battery_energy_residual,
    heat_pump,
    make_inputs,
    make_site,
    tank,
)

NO_TERMINAL_VALUE = OptimizerOptions(horizon_slots=8, terminal_value_eur_per_kwh=0.0)
TWO_PRICES = [0.10] * 4 + [0.30] * 4


def test_battery_shifts_load_to_the_cheap_half_of_a_two_price_day():
    # 4 kW load all day; 0.10 EUR/kWh for four slots, then 0.30. With 90 % efficiency each way,
    # 1 kWh delivered later costs 0.10 / 0.81 = 0.123 < 0.30 now, so the battery carries the
    # whole expensive load (4 kW x 1 h = 4 kWh) bought in the cheap half.
    site = make_site(
        [
            {
                "id": "h1",
                "battery": battery(charge_efficiency_frac=0.9, discharge_efficiency_frac=0.9),
            }
        ]
    )
    inputs = make_inputs(site, 8, price=TWO_PRICES, load={"h1": 4.0})
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)

    assert result.status == PlanStatus.OPTIMAL
    assert result.stage == "lp"
    grid = result.values[(GRID_ID, "import_kw")]
    np.testing.assert_allclose(grid[4:], 0.0, atol=1e-7)
    np.testing.assert_allclose(result.values[("h1.battery", "power_kw")][4:], -4.0, atol=1e-7)
    expected = 0.10 * 4.0 + 0.10 * 4.0 / 0.81
    assert result.summary.objective_eur == pytest.approx(expected, abs=1e-7)
    assert result.summary.cost_breakdown["import_eur"] == pytest.approx(expected, abs=1e-7)
    np.testing.assert_allclose(balance_residual(site, inputs, result), 0.0, atol=1e-7)
    assert battery_energy_residual(site, {"h1.battery": 0.0}, result) < 1e-7
    # balance prices: a kWh more load costs the cheap price now, or cheap / 0.81 later
    prices = result.values[(GRID_ID, "balance_price_eur_per_kwh")]
    np.testing.assert_allclose(prices[:4], 0.10, atol=1e-7)
    np.testing.assert_allclose(prices[4:], 0.10 / 0.81, atol=1e-7)


def test_battery_stays_idle_when_losses_eat_the_spread():
    # 0.25 / 0.81 = 0.309 > 0.30: shifting would cost more than it saves.
    site = make_site(
        [
            {
                "id": "h1",
                "battery": battery(charge_efficiency_frac=0.9, discharge_efficiency_frac=0.9),
            }
        ]
    )
    inputs = make_inputs(site, 8, price=[0.25] * 4 + [0.30] * 4, load={"h1": 4.0})
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)

    np.testing.assert_allclose(result.values[("h1.battery", "power_kw")], 0.0, atol=1e-7)
    assert result.summary.objective_eur == pytest.approx(4 * 0.25 + 4 * 0.30, abs=1e-7)


def test_heat_pump_heats_the_tank_in_the_one_cheap_slot():
    # 2 kW heat demand for four slots (2 kWh); the tank starts at its minimum. Only slot 0 is
    # cheap, and the heat pump can make all 2 kWh there: P = 2 kWh / (0.25 h x COP).
    site = make_site([{"id": "h1", "heat_pump": heat_pump(), "tank": tank()}])
    hp_config = HeatPumpConfig.model_validate(heat_pump())
    # the tank starts at 40 degC, below the 45 degC supply: slot 0 runs at the supply's COP
    cop = float(
        heat_pump_cop_at_tank(hp_config, 5.0, TankConfig.model_validate(tank()).initial_temp_c)
    )
    inputs = make_inputs(site, 4, price=[0.10, 0.40, 0.40, 0.40], heat={"h1": 2.0})
    options = OptimizerOptions(horizon_slots=4, terminal_value_eur_per_kwh=0.0)
    result = DispatchOptimizer(site, options=options).solve(inputs)

    power = result.values[("h1.hp", "power_kw")]
    assert power[0] == pytest.approx(2.0 / (0.25 * cop), abs=1e-7)
    np.testing.assert_allclose(power[1:], 0.0, atol=1e-7)
    assert result.summary.objective_eur == pytest.approx(0.10 * 2.0 / cop, abs=1e-7)
    capacity = tank_capacity_kwh_per_k(200.0)
    expected_energy = np.array([1.5, 1.0, 0.5, 0.0])  # kWh above 40 degC at each slot's end
    np.testing.assert_allclose(
        result.values[("h1.tank", "energy_end_kwh")], expected_energy, atol=1e-7
    )
    np.testing.assert_allclose(
        result.values[("h1.tank", "temp_end_c")], 40.0 + expected_energy / capacity, atol=1e-6
    )
    np.testing.assert_allclose(result.values[("h1.hp", "heat_kw")], cop * power, atol=1e-9)
    assert result.violations == ()


def test_peak_charge_flattens_import():
    # Load 2 kW except 10 kW in slot 2; flat price, lossless battery starting empty. The battery
    # can only charge in slots 0-1 before the peak: 2 (p - 2) >= 10 - p gives p = 14/3 kW.
    site = make_site(
        [{"id": "h1", "battery": battery()}],
        tariff={
            "kind": "fixed",
            "fixed_price_eur_per_kwh": 0.3,
            "peak_import_charge_eur_per_kw": 10.0,
        },
    )
    load = [2.0, 2.0, 10.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    inputs = make_inputs(site, 8, price=0.30, load={"h1": load})
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)

    grid = result.values[(GRID_ID, "import_kw")]
    assert grid.max() == pytest.approx(14.0 / 3.0, abs=1e-6)
    assert result.summary.cost_breakdown["peak_import_kw"] == pytest.approx(14.0 / 3.0, abs=1e-6)
    energy_kwh = 0.25 * sum(load)
    assert result.summary.objective_eur == pytest.approx(
        0.30 * energy_kwh + 10.0 * 14.0 / 3.0, abs=1e-6
    )


def test_peak_already_reached_in_the_billing_period_is_not_shaved_again():
    site = make_site(
        [{"id": "h1", "battery": battery()}],
        tariff={
            "kind": "fixed",
            "fixed_price_eur_per_kwh": 0.3,
            "peak_import_charge_eur_per_kw": 10.0,
        },
    )
    load = [2.0, 2.0, 10.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    inputs = make_inputs(site, 8, price=0.30, load={"h1": load})
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(
        inputs, DispatchState(peak_import_kw=12.0)
    )
    # nothing to gain from shaving below 12 kW: the battery stays empty (no terminal value)
    np.testing.assert_allclose(result.values[("h1.battery", "power_kw")], 0.0, atol=1e-7)


def test_terminal_value_keeps_stored_energy():
    # flat price 0.30; a lossless full battery. Without a terminal value the battery empties
    # into the load; valued at 0.30 per kWh it is indifferent, above it keeps its energy.
    site = make_site([{"id": "h1", "battery": battery(initial_soc_frac=1.0)}])
    inputs = make_inputs(site, 8, price=0.30, load={"h1": 2.0})
    drained = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)
    kept = DispatchOptimizer(
        site, options=NO_TERMINAL_VALUE.replace(terminal_value_eur_per_kwh=0.35)
    ).solve(inputs)
    assert drained.values[("h1.battery", "energy_end_kwh")][-1] == pytest.approx(6.0, abs=1e-7)
    assert kept.values[("h1.battery", "energy_end_kwh")][-1] == pytest.approx(10.0, abs=1e-7)


def test_cycle_cost_stops_shifting_that_saves_less():
    site = make_site([{"id": "h1", "battery": battery(cycle_cost_eur_per_kwh=0.15)}])
    inputs = make_inputs(site, 8, price=TWO_PRICES, load={"h1": 4.0})
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)
    # spread 0.20 < 2 x 0.15 (cost per kWh charged and per kWh discharged)
    np.testing.assert_allclose(result.values[("h1.battery", "power_kw")], 0.0, atol=1e-7)


def test_grid_import_objective_uses_pv_surplus_instead_of_cheap_grid():
    site = make_site(
        [
            {
                "id": "h1",
                "battery": battery(),
                "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 180},
            }
        ],
        objective={"kind": "grid_import"},
    )
    pv = [4.0] * 4 + [0.0] * 4
    inputs = make_inputs(site, 8, price=TWO_PRICES, load={"h1": 2.0}, pv={"h1.pv": pv})
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)
    # surplus 2 kW x 1 h = 2 kWh covers the evening (2 kW x 1 h): no import at all
    np.testing.assert_allclose(result.values[(GRID_ID, "import_kw")], 0.0, atol=1e-7)
    assert result.summary.objective_eur == pytest.approx(0.0, abs=1e-7)


def test_co2_objective_moves_import_to_clean_slots():
    site = make_site([{"id": "h1", "battery": battery()}], objective={"kind": "co2"})
    co2 = [100.0] * 4 + [500.0] * 4
    inputs = make_inputs(site, 8, price=0.30, load={"h1": 4.0}, co2=co2)
    result = DispatchOptimizer(site, options=NO_TERMINAL_VALUE).solve(inputs)
    np.testing.assert_allclose(result.values[(GRID_ID, "import_kw")][4:], 0.0, atol=1e-7)
    # 8 kWh imported at 100 g/kWh
    assert result.summary.cost_breakdown["co2_kg"] == pytest.approx(0.8, abs=1e-7)


def test_pv_is_curtailed_when_exporting_costs_money():
    site = make_site([{"id": "h1", "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 180}}])
    inputs = make_inputs(
        site,
        4,
        price=0.30,
        export_price=[0.08, -0.05, 0.08, 0.08],
        load={"h1": 1.0},
        pv={"h1.pv": 4.0},
    )
    result = DispatchOptimizer(site, horizon_slots=4).solve(inputs)
    exported = result.values[(GRID_ID, "export_kw")]
    np.testing.assert_allclose(exported, [3.0, 0.0, 3.0, 3.0], atol=1e-7)
    np.testing.assert_allclose(result.values[("h1.pv", "curtailed_kw")], [0, 3, 0, 0], atol=1e-7)


def test_feed_in_limit_caps_export_and_curtails_the_rest():
    site = make_site(
        [{"id": "h1", "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 180}}],
        grid={"import_limit_kw": 50.0, "export_limit_kw": 50.0, "feed_in_limit_kw": 2.0},
    )
    inputs = make_inputs(site, 4, price=0.30, export_price=0.08, pv={"h1.pv": 4.0})
    result = DispatchOptimizer(site, horizon_slots=4).solve(inputs)
    np.testing.assert_allclose(result.values[(GRID_ID, "export_kw")], 2.0, atol=1e-7)
    assert result.violations == ()


def test_grid_operator_bounds_per_slot_cap_export_and_import_where_given():
    # a temporary feed-in limit of 1 kW in the first two slots (curtailing 2 kW there), and a
    # §14a import bound: the battery may not charge more than 2 kW above the 1 kW load in
    # slot 3, where the price is lowest, so it buys the rest in slot 4 (inf: no bound)
    site = make_site(
        [
            {"id": "h1", "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 180}},
            {"id": "h2", "battery": battery()},
        ]
    )
    inputs = make_inputs(
        site,
        6,
        price=[0.30, 0.30, 0.10, 0.12, 0.40, 0.40],
        export_price=0.08,
        load={"h1": 0.0, "h2": 1.0},
        pv={"h1.pv": [4.0, 4.0, 0.0, 0.0, 0.0, 0.0]},
    )
    inputs = dataclasses.replace(
        inputs,
        export_limit_kw=np.array([1.0, 1.0, np.inf, np.inf, np.inf, np.inf]),
        import_limit_kw=np.array([np.inf, np.inf, 3.0, np.inf, np.inf, np.inf]),
    )
    result = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=6)).solve(inputs)
    exported = result.values[(GRID_ID, "export_kw")]
    imported = result.values[(GRID_ID, "import_kw")]
    assert exported[0] <= 1.0 + 1e-7
    assert exported[1] <= 1.0 + 1e-7
    assert imported[2] <= 3.0 + 1e-7
    assert imported[2] == pytest.approx(3.0, abs=1e-6)
    assert imported[3] > 1.0 + 1e-6  # the rest of the charge comes a slot later
    assert result.violations == ()


def test_a_grid_operator_bound_that_cannot_be_kept_is_reported_as_a_violation():
    # 1 kW of household load and nothing to cover it: an import bound of 0.4 kW is broken by 0.6
    site = make_site([{"id": "h1"}])
    inputs = dataclasses.replace(
        make_inputs(site, 4, price=0.30, load={"h1": 1.0}),
        import_limit_kw=np.array([0.4, np.inf, np.inf, np.inf]),
    )
    result = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=4)).solve(inputs)
    (violation,) = result.violations
    assert (violation.limit, violation.n_slots) == ("grid_import_limit", 1)
    assert violation.max_amount == pytest.approx(0.6)


def test_negative_price_gets_binaries_and_no_simultaneous_charge_and_discharge():
    # at -0.20 EUR/kWh an LP would charge and discharge at once to burn energy in the losses
    site = make_site(
        [
            {
                "id": "h1",
                "battery": battery(
                    charge_efficiency_frac=0.9, discharge_efficiency_frac=0.9, initial_soc_frac=0.5
                ),
            }
        ]
    )
    inputs = make_inputs(site, 4, price=[0.3, -0.2, 0.3, 0.3], load={"h1": 1.0})
    optimizer = DispatchOptimizer(site, horizon_slots=4)
    result = optimizer.solve(inputs)
    assert result.stage == "milp"
    assert result.summary.n_integer_variables > 0
    outcome = optimizer.last_outcome
    assert outcome is not None
    charge = outcome.col_values[optimizer.backend.columns_of("ch")]
    discharge = outcome.col_values[optimizer.backend.columns_of("dis")]
    assert float(np.max(np.minimum(charge, discharge))) < 1e-7
    assert (
        float(np.max(result.values[(GRID_ID, "import_kw")] * result.values[(GRID_ID, "export_kw")]))
        < 1e-9
    )
    # with positive prices the same model is an LP again
    again = optimizer.solve(make_inputs(site, 4, price=0.3, load={"h1": 1.0}))
    assert again.stage == "lp"
    assert again.summary.duals_available


def test_dimming_signal_caps_heat_pump_power():
    site = make_site([{"id": "h1", "heat_pump": heat_pump(), "tank": tank(initial_temp_c=50.0)}])
    inputs = make_inputs(
        site,
        8,
        price=[0.1] * 4 + [0.4] * 4,
        heat={"h1": 1.0},
        cap={"h1.hp": [3.0, 0.5, 0.5, 3.0, 3.0, 3.0, 3.0, 3.0]},
    )
    result = DispatchOptimizer(site, horizon_slots=8).solve(inputs)
    power = result.values[("h1.hp", "power_kw")]
    assert power[1] <= 0.5 + 1e-9
    assert power[2] <= 0.5 + 1e-9
