"""The decomposed dispatch reaches the whole LP's optimum and keeps the connection's limits.

The reference is DispatchOptimizer, the readable Pyomo formulation solved whole: on random small
districts (houses of the default site's kinds, random loads, PV and heat, connection limits that
sometimes bind, a peak charge, the shared EV charger and a community battery or not) the
decomposed plan's objective is within 0.1 % of it, the bound lies below it, and the plan keeps
the power balance and the connection limits.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.config import SiteConfig, load_site_config
from energy.site import Site
from optimizer import (
    GRID_ID,
    DispatchInputs,
    DispatchOptimizer,
    DispatchState,
    OptimizerOptions,
    evaluate_plan,
    synthetic_inputs,
)
from optimizer.decomposition import (
    DecomposedDispatch,
    DecomposedPlan,
    DecompositionError,
    DecompositionOptions,
)
from optimizer.plant import Plant
from tests.optimizer.conftest import START, battery

GAP = 1e-3
TOL_KW = 1e-5


def district(
    n_houses: int,
    *,
    limit_factor: float,
    peak_charge: float,
    shared: bool,
    community: bool,
) -> Site:
    """The default site's houses repeated to n_houses, its connection scaled by limit_factor
    per house, with or without its EV charger and a community battery."""
    base = load_site_config().model_dump(mode="python", exclude={"source_path"})
    houses = []
    for i in range(n_houses):
        house = {k: v for k, v in base["houses"][i % len(base["houses"])].items() if k != "meter"}
        house["id"], house["name"] = f"house-{i + 1:02d}", f"Haus {i + 1}"
        for part in ("pv", "heat_pump", "battery"):
            if house.get(part):
                house[part] = {k: v for k, v in house[part].items() if k != "device"}
        houses.append(house)
    config = {
        **base,
        "houses": houses,
        "community_batteries": (
            [
                {
                    "id": "flow",
                    "name": "flow",
                    **battery(capacity_kwh=40.0, cycle_cost_eur_per_kwh=0.02),
                }
            ]
            if community
            else []
        ),
        "ev_chargers": (
            [{k: v for k, v in c.items() if k != "device"} for c in base["ev_chargers"]]
            if shared
            else []
        ),
        "grid": {
            "import_limit_kw": limit_factor * n_houses,
            "export_limit_kw": limit_factor * n_houses,
        },
        "tariff": {**base["tariff"], "peak_import_charge_eur_per_kw": peak_charge},
    }
    return Site.from_config(SiteConfig.model_validate(config))


def whole(site: Site, inputs: DispatchInputs, state: DispatchState | None = None) -> float:
    """The whole LP's objective, linearised around the measured tank temperatures (one pass,
    as the decomposition without a linearisation)."""
    options = OptimizerOptions(horizon_slots=inputs.n_slots, cop_linearisation_passes=1)
    result = DispatchOptimizer(site, options=options).solve(inputs, state)
    assert result.summary.stage == "lp"
    return result.summary.objective_eur


def decomposed(
    site: Site, inputs: DispatchInputs, state: DispatchState | None = None, **settings: object
) -> DecomposedPlan:
    options = OptimizerOptions(horizon_slots=inputs.n_slots)
    chosen = DecompositionOptions(**{"workers": 0, **settings})  # type: ignore[arg-type]
    with DecomposedDispatch(site, options, chosen) as dispatch:
        return dispatch.solve(inputs, state)


def balance_residual_kw(site: Site, inputs: DispatchInputs, plan: DecomposedPlan) -> np.ndarray:
    plant = Plant.from_site(site)
    v = plan.values
    demand = sum((inputs.load_kw[h] for h in plant.houses), np.zeros(inputs.n_slots))
    for assets in (plant.batteries, plant.heat_pumps, plant.ev_chargers):
        demand = demand + sum((v[(a.id, "power_kw")] for a in assets), 0.0)
    demand = demand - sum((v[(p.id, "power_kw")] for p in plant.pvs), 0.0)
    return v[(GRID_ID, "import_kw")] - v[(GRID_ID, "export_kw")] - demand


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_houses=st.integers(3, 10),
    n_slots=st.sampled_from([8, 12, 16]),
    seed=st.integers(0, 10_000),
    limit_factor=st.sampled_from([1.0, 2.5, 20.0]),
    peak_charge=st.sampled_from([0.0, 0.8]),
    shared=st.booleans(),
    community=st.booleans(),
    start_hour=st.sampled_from([0, 10, 17]),
)
def test_decomposed_plan_reaches_the_whole_lp_optimum(
    n_houses, n_slots, seed, limit_factor, peak_charge, shared, community, start_hour
):
    site = district(
        n_houses,
        limit_factor=limit_factor,
        peak_charge=peak_charge,
        shared=shared,
        community=community,
    )
    start = START.replace(month=6) + np.timedelta64(start_hour, "h")
    inputs = synthetic_inputs(site, start, n_slots, seed=seed)
    reference = whole(site, inputs)

    plan = decomposed(site, inputs)

    assert plan.converged
    assert plan.gap_frac <= GAP
    assert abs(plan.objective_eur - reference) <= GAP * abs(reference)
    # the bound is a bound, and the recovered plan no dearer than the master's
    assert plan.bound_eur <= reference + 1e-6 * max(1.0, abs(reference))
    assert plan.objective_eur <= plan.master_objective_eur + 1e-6 * max(1.0, abs(reference))
    assert np.abs(balance_residual_kw(site, inputs, plan)).max() <= TOL_KW
    imports = plan.values[(GRID_ID, "import_kw")]
    exports = plan.values[(GRID_ID, "export_kw")]
    assert imports.max() <= site.config.grid.import_limit_kw + 1e-3
    assert exports.max() <= site.config.grid.export_limit_kw + 1e-3
    # the plan's own cost breakdown gives the objective reported
    breakdown, _ = evaluate_plan(
        site.config,
        Plant.from_site(site),
        OptimizerOptions(horizon_slots=n_slots),
        inputs,
        DispatchState().completed(site),
        plan.values,
    )
    assert breakdown["objective_eur"] == pytest.approx(plan.objective_eur, rel=1e-6, abs=1e-6)


def test_connection_limits_hold_where_they_bind():
    """A connection far below what the houses would import: the plan stays within it, and its
    cost is the whole LP's."""
    site = district(6, limit_factor=0.6, peak_charge=0.0, shared=False, community=False)
    inputs = synthetic_inputs(site, START, 16, seed=3)
    reference = whole(site, inputs)
    unconstrained = whole(
        district(6, limit_factor=50.0, peak_charge=0.0, shared=False, community=False), inputs
    )
    assert reference > unconstrained  # the limit binds

    plan = decomposed(site, inputs)

    assert abs(plan.objective_eur - reference) <= GAP * abs(reference)
    assert plan.values[(GRID_ID, "import_kw")].max() <= site.config.grid.import_limit_kw + 1e-3


def test_sample_start_and_previous_price_reach_the_same_optimum():
    site = district(8, limit_factor=2.5, peak_charge=0.8, shared=True, community=True)
    inputs = synthetic_inputs(site, START, 12, seed=5)
    reference = whole(site, inputs)

    sampled = decomposed(site, inputs, sample_houses=2)
    options = OptimizerOptions(horizon_slots=12)
    with DecomposedDispatch(site, options, DecompositionOptions(workers=0)) as dispatch:
        restarted = dispatch.solve(inputs, start_price=sampled.start_price)

    assert sampled.sample_iterations > 0
    for plan in (sampled, restarted):
        assert abs(plan.objective_eur - reference) <= GAP * abs(reference)


def test_a_replan_from_the_last_plan_reaches_the_next_horizons_optimum():
    site = district(6, limit_factor=2.5, peak_charge=0.8, shared=True, community=True)
    inputs = synthetic_inputs(site, START, 13, seed=7)
    later = inputs.window(1, 12)
    reference = whole(site, later)
    options = OptimizerOptions(horizon_slots=12)
    with DecomposedDispatch(site, options, DecompositionOptions(workers=0)) as dispatch:
        first = dispatch.solve(inputs.window(0, 12))
        start_price, start_net_kw = first.next_start()
        replan = dispatch.solve(later, start_price=start_price, start_net_kw=start_net_kw)
        with pytest.raises(ValueError, match="start_net_kw: expected 7 blocks x 12 slots"):
            dispatch.solve(later, start_net_kw=start_net_kw[:, :6])

    # the profiles and prices moved on by a slot, the last slot repeated
    assert np.array_equal(start_net_kw[:, :-1], first.block_net_kw[:, 1:])
    assert np.array_equal(start_net_kw[:, -1], first.block_net_kw[:, -1])
    assert np.array_equal(start_price[:-1], first.bound_price[1:])
    assert first.warm_proposals == 0
    assert 0 < replan.warm_proposals <= first.n_blocks
    assert abs(replan.objective_eur - reference) <= GAP * abs(reference)


def test_worker_processes_give_the_in_process_plan():
    site = district(5, limit_factor=2.5, peak_charge=0.8, shared=True, community=False)
    inputs = synthetic_inputs(site, START, 8, seed=9)
    options = OptimizerOptions(horizon_slots=8)
    in_process = decomposed(site, inputs, gap_frac=1e-6)
    with DecomposedDispatch(site, options, DecompositionOptions(workers=2, gap_frac=1e-6)) as d:
        parallel = d.solve(inputs)
        again = d.solve(inputs)  # the workers keep their templates and bases

    assert parallel.objective_eur == pytest.approx(in_process.objective_eur, rel=1e-6)
    assert again.objective_eur == pytest.approx(in_process.objective_eur, rel=1e-6)
    assert parallel.worker_cpu_seconds > 0


def test_integer_decisions_are_refused():
    site = district(3, limit_factor=2.5, peak_charge=0.0, shared=False, community=False)
    inputs = synthetic_inputs(site, START, 8, seed=1)
    negative = DispatchInputs(
        index=inputs.index,
        price_import_eur_per_kwh=inputs.price_import_eur_per_kwh - 1.0,
        price_export_eur_per_kwh=inputs.price_export_eur_per_kwh,
        temp_outdoor_c=inputs.temp_outdoor_c,
        load_kw=inputs.load_kw,
        pv_kw=inputs.pv_kw,
        heat_demand_kw=inputs.heat_demand_kw,
    )
    with pytest.raises(DecompositionError, match="integer direction"):
        decomposed(site, negative)
    with pytest.raises(DecompositionError, match="heat_pump_on_off"):
        DecomposedDispatch(site, OptimizerOptions(horizon_slots=8, heat_pump_on_off=True))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("workers", -1),
        ("gap_frac", 0.0),
        ("max_iterations", 0),
        ("smoothing", 1.0),
        ("sample_houses", -1),
        ("sample_gap_frac", 1.0),
    ],
)
def test_options_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        DecompositionOptions(**{field: value})
