"""Solver options are validated; plans of random inputs keep the physics and the objective."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import (
    DispatchOptimizer,
    DispatchState,
    OptimizerOptions,
    SolverOptionError,
    validate_highs_options,
)
from optimizer.plant import sg_ready_levels_kw
from tests.optimizer.conftest import (
    balance_residual,
    battery,
    battery_energy_residual,
    heat_pump,
    make_inputs,
    make_site,
    tank,
)


def test_misspelled_solver_option_is_an_error():
    with pytest.raises(SolverOptionError, match="presolv"):
        OptimizerOptions(highs_options={"presolv": "off"})


def test_solver_option_with_a_wrong_value_is_an_error():
    with pytest.raises(SolverOptionError, match="threads"):
        validate_highs_options({"threads": "many"})


def test_options_the_optimizer_manages_are_refused_in_highs_options():
    with pytest.raises(SolverOptionError, match="time_limit"):
        validate_highs_options({"time_limit": 3.0})


def test_milp_needs_a_time_limit_and_a_gap():
    with pytest.raises(ValueError, match="mip_rel_gap"):
        OptimizerOptions(mip_rel_gap=0.0)
    with pytest.raises(ValueError, match="time_limit_s"):
        OptimizerOptions(time_limit_s=0.0)


def test_valid_solver_options_reach_highs():
    site = make_site([{"id": "h1", "battery": battery()}])
    options = OptimizerOptions(horizon_slots=4, highs_options={"presolve": "off", "threads": 1})
    optimizer = DispatchOptimizer(site, options=options)
    assert optimizer.backend.highs.getOptionValue("presolve")[1] == "off"
    assert optimizer.backend.highs.getOptionValue("threads")[1] == 1


SITE = make_site(
    [
        {
            "id": "h1",
            "battery": battery(
                charge_efficiency_frac=0.9,
                discharge_efficiency_frac=0.92,
                soc_min_frac=0.1,
                soc_max_frac=0.9,
                initial_soc_frac=0.5,
                standby_loss_frac_per_h=0.001,
                charge_max_kw=3.0,
                discharge_max_kw=3.0,
                cycle_cost_eur_per_kwh=0.01,
            ),
            "pv": {"peak_kw": 6.0, "tilt_deg": 30, "azimuth_deg": 180},
            "heat_pump": heat_pump(
                source="air", electric_min_kw=0.6, min_on_minutes=30, min_off_minutes=30
            ),
            "tank": tank(loss_w_per_k=2.5, initial_temp_c=48.0),
        },
        {
            "id": "h2",
            "heat_pump": heat_pump(control="sg_ready", electric_min_kw=1.0),
            "tank": tank(initial_temp_c=45.0),
        },
    ],
    community=[
        {
            "id": "flow",
            "name": "flow",
            **battery(
                capacity_kwh=20.0,
                charge_max_kw=5.0,
                discharge_max_kw=5.0,
                charge_efficiency_frac=0.85,
                discharge_efficiency_frac=0.85,
                initial_soc_frac=0.5,
            ),
        }
    ],
    grid={"import_limit_kw": 12.0, "export_limit_kw": 8.0},
    tariff={"kind": "fixed", "fixed_price_eur_per_kwh": 0.3, "peak_import_charge_eur_per_kw": 0.5},
)
N = 8
OPTIMIZERS = {
    on_off: DispatchOptimizer(
        SITE, options=OptimizerOptions(horizon_slots=N, heat_pump_on_off=on_off)
    )
    for on_off in (False, True)
}

series = st.lists(st.floats(0.0, 8.0, allow_nan=False), min_size=N, max_size=N)
prices = st.lists(st.floats(-0.2, 0.6, allow_nan=False), min_size=N, max_size=N)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    price=prices,
    export=prices,
    load1=series,
    load2=series,
    pv=series,
    heat1=series,
    heat2=series,
    temp=st.floats(-15, 20),
    soc=st.floats(0.0, 1.0),
    tank_temp=st.floats(30.0, 70.0),
    on_off=st.booleans(),
)
def test_random_inputs_give_plans_that_keep_the_physics(
    price, export, load1, load2, pv, heat1, heat2, temp, soc, tank_temp, on_off
):
    inputs = make_inputs(
        SITE,
        N,
        price=price,
        export_price=export,
        temp=temp,
        load={"h1": load1, "h2": load2},
        pv={"h1.pv": pv},
        heat={"h1": heat1, "h2": heat2},
    )
    state = DispatchState(soc_frac={"h1.battery": soc}, tank_temp_c={"h1.tank": tank_temp})
    result = OPTIMIZERS[on_off].solve(inputs, state)

    assert result.summary.status in ("optimal", "feasible")
    np.testing.assert_allclose(balance_residual(SITE, inputs, result), 0.0, atol=1e-6)
    assert battery_energy_residual(SITE, {"h1.battery": soc, "flow": 0.5}, result) < 1e-6
    # the plan, priced by the evaluator, is worth exactly what the solver says it is worth (a
    # MILP solution is polished: its continuous part is re-solved with the integers fixed)
    assert result.summary.cost_breakdown["objective_eur"] == pytest.approx(
        result.summary.objective_eur, rel=1e-6, abs=1e-5
    )
    hp = result.values[("h1.hp", "power_kw")]
    if on_off:
        assert np.all((hp < 1e-6) | (hp >= 0.6 - 1e-6))
        levels = [0.0, *sg_ready_levels_kw(SITE.config.houses[1].heat_pump).values()]
        sg_power = result.values[("h2.hp", "power_kw")]
        assert np.all(np.min(np.abs(sg_power[:, None] - np.array(levels)[None, :]), axis=1) < 1e-6)
