"""Every changing input must reach the loaded HiGHS model, and warm re-solves must equal cold ones.

The reference is a fresh compile of the Pyomo model with its Params set to the same values: the
HiGHS model after an in-place update must be identical to it.
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import pytest
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions, dispatch
from optimizer.model import build_model, coefficients, set_param_values
from tests.optimizer.conftest import battery, heat_pump, make_inputs, make_site, tank

N = 6


@pytest.fixture(scope="module")
def site():
    return make_site(
        [
            {
                "id": "h1",
                "battery": battery(initial_soc_frac=0.5),
                "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 180},
                "heat_pump": heat_pump(
                    source="air", electric_min_kw=0.5, min_on_minutes=30, min_off_minutes=30
                ),
                "tank": tank(initial_temp_c=45.0),
            },
            {
                "id": "h2",
                "heat_pump": heat_pump(control="sg_ready", electric_min_kw=1.0),
                "tank": tank(initial_temp_c=50.0),
            },
        ],
        community=[{"id": "flow", "name": "flow", **battery(initial_soc_frac=0.3)}],
        objective={
            "kind": "blend",
            "cost_weight": 1.0,
            "grid_import_weight_per_kwh": 0.01,
            "co2_weight_per_kg": 0.05,
        },
        tariff={
            "kind": "fixed",
            "fixed_price_eur_per_kwh": 0.3,
            "peak_import_charge_eur_per_kw": 1.0,
        },
    )


def base_inputs(site):
    return make_inputs(
        site,
        N,
        price=[0.2, 0.3, 0.25, 0.4, 0.1, 0.3],
        export_price=0.08,
        temp=[2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        load={"h1": 1.0, "h2": 2.0},
        pv={"h1.pv": [0, 1, 2, 3, 2, 1]},
        heat={"h1": 1.5, "h2": 2.5},
        co2=[300, 320, 340, 360, 380, 400],
        cap={"h1.hp": 3.0},
    )


BASE_STATE = DispatchState(
    soc_frac={"h1.battery": 0.5, "flow": 0.3},
    tank_temp_c={"h1.tank": 45.0, "h2.tank": 50.0},
    hp_on={"h1.hp": True},
    hp_minutes_in_state={"h1.hp": 15.0},
    peak_import_kw=1.0,
)


def compiled_reference(optimizer, inputs, state):
    """LP data of a from-scratch compile of the Pyomo model with the Params set (a model built
    anew: the optimizer keeps none once it has loaded its own)."""
    dm = build_model(optimizer.site.config, optimizer.plant, optimizer.options)
    completed = state.completed(optimizer.site)
    set_param_values(dm, coefficients(dm, inputs, completed, optimizer.linearisation))
    info = LinearStandardFormCompiler().write(dm.formulation, mixed_form=True)
    sense = np.array([s for _, s in info.rows])
    rhs = np.asarray(info.rhs, dtype=float)
    return {
        "col_cost": info.c.toarray().ravel(),
        "col_lower": np.array([-np.inf if v.lb is None else v.lb for v in info.columns]),
        "col_upper": np.array([np.inf if v.ub is None else v.ub for v in info.columns]),
        "row_lower": np.where(sense <= 0, rhs, -np.inf),
        "row_upper": np.where(sense >= 0, rhs, np.inf),
        "matrix": info.A.toarray(),
    }


def loaded(optimizer):
    data = optimizer.backend.lp_data()
    n_rows, n_cols = optimizer.backend.n_rows, optimizer.backend.n_cols
    matrix = np.zeros((n_rows, n_cols))
    for col in range(n_cols):
        for k in range(data["start"][col], data["start"][col + 1]):
            matrix[data["index"][k], col] = data["value"][k]
    data["matrix"] = matrix
    for key in ("col_lower", "col_upper", "row_lower", "row_upper"):
        values = data[key]
        data[key] = np.where(values >= 1e30, np.inf, np.where(values <= -1e30, -np.inf, values))
    return data


def assert_same_lp(actual, expected):
    for key in ("col_cost", "col_lower", "col_upper", "row_lower", "row_upper", "matrix"):
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-12, atol=1e-12, err_msg=key)


def changed_keys(before, after):
    return {
        k
        for k in ("col_cost", "col_lower", "col_upper", "row_lower", "row_upper", "matrix")
        if not np.array_equal(before[k], after[k])
    }


PERTURBATIONS = {
    "price_import": (
        lambda i: dataclasses.replace(
            i, price_import_eur_per_kwh=i.price_import_eur_per_kwh + 0.05
        ),
        None,
        "col_cost",
    ),
    "price_export": (
        lambda i: dataclasses.replace(
            i, price_export_eur_per_kwh=i.price_export_eur_per_kwh + 0.01
        ),
        None,
        "col_cost",
    ),
    "co2": (lambda i: dataclasses.replace(i, co2_g_per_kwh=i.co2_g_per_kwh * 2), None, "col_cost"),
    "load": (
        lambda i: dataclasses.replace(i, load_kw={**i.load_kw, "h2": i.load_kw["h2"] + 1}),
        None,
        "row_lower",
    ),
    "pv": (
        lambda i: dataclasses.replace(i, pv_kw={"h1.pv": i.pv_kw["h1.pv"] + 0.5}),
        None,
        "col_upper",
    ),
    "heat_demand": (
        lambda i: dataclasses.replace(
            i, heat_demand_kw={**i.heat_demand_kw, "h2": i.heat_demand_kw["h2"] * 2}
        ),
        None,
        "row_lower",
    ),
    "temperature_cop": (
        lambda i: dataclasses.replace(i, temp_outdoor_c=i.temp_outdoor_c - 8),
        None,
        "matrix",
    ),
    "dimming_cap": (
        lambda i: dataclasses.replace(i, power_cap_kw={"h1.hp": np.full(N, 0.4)}),
        None,
        "col_upper",
    ),
    "battery_soc": (
        None,
        lambda s: dataclasses.replace(s, soc_frac={"h1.battery": 0.9, "flow": 0.3}),
        "row_lower",
    ),
    "community_soc": (
        None,
        lambda s: dataclasses.replace(s, soc_frac={"h1.battery": 0.5, "flow": 0.8}),
        "row_lower",
    ),
    "tank_temp": (
        None,
        lambda s: dataclasses.replace(s, tank_temp_c={"h1.tank": 55.0, "h2.tank": 50.0}),
        "row_lower",
    ),
    "heat_pump_state": (
        None,
        lambda s: dataclasses.replace(
            s, hp_on={"h1.hp": False}, hp_minutes_in_state={"h1.hp": 0.0}
        ),
        "col_upper",
    ),
    "peak_so_far": (None, lambda s: dataclasses.replace(s, peak_import_kw=7.0), "col_lower"),
    "tank_reserve": (None, lambda s: dataclasses.replace(s, tank_reserve_k=2.0), "row_lower"),
}


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_every_changing_input_reaches_the_solver(site, name):
    change_inputs, change_state, where = PERTURBATIONS[name]
    optimizer = DispatchOptimizer(
        site, options=OptimizerOptions(horizon_slots=N, heat_pump_on_off=True)
    )
    inputs, state = base_inputs(site), BASE_STATE
    optimizer.solve(inputs, state)
    before = loaded(optimizer)
    assert_same_lp(before, compiled_reference(optimizer, inputs, state))

    new_inputs = change_inputs(inputs) if change_inputs else inputs
    new_state = change_state(state) if change_state else state
    optimizer.solve(new_inputs, new_state)
    after = loaded(optimizer)
    assert where in changed_keys(before, after)
    assert_same_lp(after, compiled_reference(optimizer, new_inputs, new_state))


def test_warm_re_solves_equal_cold_solves(site):
    options = OptimizerOptions(horizon_slots=N, heat_pump_on_off=False)
    warm = DispatchOptimizer(site, options=options)
    rng = np.random.default_rng(3)
    for _ in range(4):
        inputs = base_inputs(site)
        inputs = dataclasses.replace(
            inputs,
            price_import_eur_per_kwh=rng.uniform(0.05, 0.5, N),
            load_kw={h: rng.uniform(0, 4, N) for h in inputs.load_kw},
            pv_kw={"h1.pv": rng.uniform(0, 5, N)},
            temp_outdoor_c=rng.uniform(-10, 15, N),
        )
        state = DispatchState(soc_frac={"h1.battery": float(rng.uniform(0.1, 0.9))})
        warm_result = warm.solve(inputs, state)
        # the same COP linearisation: the warm one is around its previous plan
        cold_result = DispatchOptimizer(site, options=options).solve(
            inputs, state, warm.linearisation
        )
        assert warm_result.summary.objective_eur == pytest.approx(
            cold_result.summary.objective_eur, rel=1e-7, abs=1e-7
        )


def test_the_optimizer_keeps_no_pyomo_model_once_loaded(site, monkeypatch):
    """Everything later solves need is read from the Pyomo model at load, so the model (a
    third of a large district's memory) is freed before the first solve."""
    built = []

    def recording_build_model(*args, **kwargs):
        dm = build_model(*args, **kwargs)
        built.append(weakref.ref(dm.formulation))
        return dm

    monkeypatch.setattr(dispatch, "build_model", recording_build_model)
    monkeypatch.setattr(dispatch, "COLLECT_AFTER_LOAD_FROM_COLUMNS", 0)
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=N))
    assert [ref() for ref in built] == [None]
    with pytest.raises(RuntimeError, match="released"):
        _ = optimizer.model.formulation
    assert optimizer.solve(base_inputs(site), BASE_STATE).summary.stage == "lp"
