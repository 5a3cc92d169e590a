"""The plan's heat pump COP is the plant's: one function of the tank temperature, and a plan that
stores heat above the supply temperature pays the COP it loses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.config import HeatPumpConfig, TankConfig
from energy.physics.heatpump import HeatPumpBank
from energy.thermal import heat_pump_cop_at_tank, heat_pump_electricity_slope_per_k
from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions
from optimizer.model import CopLinearisation, coefficients
from tests.optimizer.conftest import heat_pump, make_inputs, make_site, tank

AIR = HeatPumpConfig.model_validate(heat_pump(source="air", carnot_efficiency_frac=0.42))


@given(
    outdoor=st.floats(-15.0, 25.0),
    tank_c=st.floats(30.0, 65.0),
)
@settings(max_examples=60, deadline=None)
def test_the_plant_and_the_plan_use_the_same_cop(outdoor: float, tank_c: float) -> None:
    site = make_site([{"id": "h1", "heat_pump": heat_pump(source="air"), "tank": tank()}])
    config = site.asset("h1.hp").params
    bank = HeatPumpBank(["h1.hp"], [config], [TankConfig.model_validate(tank())], start_us=0)
    bank.update_cop(outdoor, np.array([tank_c]))

    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=2))
    inputs = make_inputs(site, 2, temp=outdoor, heat={"h1": 1.0})
    state = DispatchState(tank_temp_c={"h1.tank": tank_c}).completed(site)
    planned = coefficients(optimizer.model, inputs, state).cop

    assert planned[0, 0] == pytest.approx(bank.cop[0], rel=1e-12)


def test_cop_falls_as_the_tank_warms_above_the_supply_temperature() -> None:
    temps = np.array([35.0, 40.0, 45.0, 50.0, 55.0, 60.0])
    cop = heat_pump_cop_at_tank(AIR, 2.0, temps)
    # below the 45 degC supply the flow temperature does not move
    assert cop[0] == cop[1] == cop[2]
    assert np.all(np.diff(cop[2:]) < 0)
    slope = heat_pump_electricity_slope_per_k(AIR, 2.0, temps)
    assert slope[0] == slope[1] == 0.0
    assert np.all(slope[3:] > 0)
    # the slope is the derivative of 1/COP: one kelvin more costs about that much electricity
    assert 1 / heat_pump_cop_at_tank(AIR, 2.0, 51.0) - 1 / cop[3] == pytest.approx(
        slope[3], rel=0.05
    )


def _site():
    return make_site(
        [
            {
                "id": "h1",
                "heat_pump": heat_pump(source="air", carnot_efficiency_frac=0.42),
                "tank": tank(initial_temp_c=45.0),
            }
        ]
    )


def _cost_in_the_plant(site, inputs, state, plan) -> float:
    """What the plan's heat costs when each slot's heat is made at the plant's COP at the tank
    temperature the slot starts with."""
    temps = plan.values[("h1.tank", "temp_end_c")]
    start_c = np.concatenate([[state.tank_temp_c["h1.tank"]], temps[:-1]])
    cop = heat_pump_cop_at_tank(site.asset("h1.hp").params, inputs.temp_outdoor_c, start_c)
    heat = plan.values[("h1.hp", "heat_kw")]
    return float(0.25 * inputs.price_import_eur_per_kwh @ (heat / cop))


def test_a_small_price_spread_does_not_pay_for_a_warmer_tank() -> None:
    # 3 % cheaper in the first hour, 5 kW of heat in the second (11 K of the 400 L tank): more
    # than one slot can make. Planned with one COP whatever the tank temperature (the old model:
    # no cost for a warm tank), everything is made in the cheap hour, heating an ever warmer
    # tank, and the plant pays more than the plan said. The plant-consistent plan pays less.
    site = make_site(
        [
            {
                "id": "h1",
                "heat_pump": heat_pump(source="air", carnot_efficiency_frac=0.42),
                "tank": tank(volume_l=400.0, initial_temp_c=45.0),
            }
        ]
    )
    inputs = make_inputs(site, 8, price=[0.30] * 4 + [0.31] * 4, heat={"h1": [0.0] * 4 + [5.0] * 4})
    options = OptimizerOptions(horizon_slots=8, terminal_value_eur_per_kwh=0.0)
    state = DispatchState().completed(site)
    one_cop = CopLinearisation(np.full((1, 8), 45.0), np.zeros((1, 8)), np.zeros(8))
    blind = DispatchOptimizer(site, options=options).solve(inputs, state, one_cop)
    plant_consistent = DispatchOptimizer(site, options=options).solve(inputs, state)

    assert blind.values[("h1.hp", "heat_kw")][4:].sum() == pytest.approx(0.0, abs=1e-6)
    blind_cost = _cost_in_the_plant(site, inputs, state, blind)
    assert blind_cost > blind.summary.cost_breakdown["import_eur"] + 1e-3
    consistent_cost = _cost_in_the_plant(site, inputs, state, plant_consistent)
    assert consistent_cost < blind_cost
    # and the plan knows what it costs in the plant
    assert plant_consistent.summary.cost_breakdown["import_eur"] == pytest.approx(
        consistent_cost, rel=0.01
    )


def test_a_plan_that_stores_heat_pays_the_cop_it_loses() -> None:
    # four times cheaper now: preheating pays even at the lower COP, and the plan says what the
    # warmer tank costs; the electricity of the later heat is priced at the COP of the warm tank
    site = _site()
    inputs = make_inputs(site, 8, price=[0.10] * 2 + [0.40] * 6, heat={"h1": 1.0})
    options = OptimizerOptions(horizon_slots=8, terminal_value_eur_per_kwh=0.0)
    optimizer = DispatchOptimizer(site, options=options)
    result = optimizer.solve(inputs)

    temps = result.values[("h1.tank", "temp_end_c")]
    assert temps[:2].max() > 46.0
    breakdown = result.summary.cost_breakdown
    assert breakdown["objective_eur"] == pytest.approx(result.summary.objective_eur, abs=1e-6)

    # re-planned a slot later around this plan: the COP of each slot is the plant's at the tank
    # temperature the plan expects at that slot's start
    later = make_inputs(
        site,
        8,
        price=[0.10] + [0.40] * 7,
        heat={"h1": 1.0},
        index=pd.date_range(inputs.index[1], periods=8, freq="15min"),
    )
    state = DispatchState(tank_temp_c={"h1.tank": float(temps[0])})
    replanned = optimizer.solve(later, state)
    point = optimizer.linearisation
    assert point is not None
    # the new slot t starts where the old plan's slot t ended
    np.testing.assert_allclose(point.tank_temp_start_c[0], temps, atol=1e-9)
    expected_cop = heat_pump_cop_at_tank(site.asset("h1.hp").params, 5.0, temps)
    np.testing.assert_allclose(replanned.values[("h1.hp", "cop")], expected_cop)
