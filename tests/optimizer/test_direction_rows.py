"""The direction rows are part of a solve only where running both ways at once could pay.

Where they are left out, optimal plans must still never charge and discharge a battery, or import
and export, in the same slot; where they matter (negative or tied prices) they are in the model;
and on the default site leaving them out changes neither the objective nor the cost of the plan.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.site import load_site
from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions, synthetic_inputs
from optimizer.model import DIRECTION_ROWS, coefficients, direction_rows_needed
from tests.optimizer.conftest import START, battery, heat_pump, make_inputs, make_site, tank

N = 12
TOL_KW = 1e-6
# the rows where needed only, as in districts of more than a few dozen batteries
SCALE_OPTIONS = OptimizerOptions(horizon_slots=N, direction_rows_everywhere_up_to_batteries=0)


@pytest.fixture(scope="module")
def lossy_site():
    return make_site(
        [
            {
                "id": "h1",
                "battery": battery(
                    charge_efficiency_frac=0.95, discharge_efficiency_frac=0.95, charge_max_kw=5.0
                ),
                "pv": {"peak_kw": 8.0, "tilt_deg": 30, "azimuth_deg": 180},
                "heat_pump": heat_pump(source="air"),
                "tank": tank(initial_temp_c=45.0, loss_w_per_k=1.5),
            },
            {
                "id": "h2",
                "battery": battery(cycle_cost_eur_per_kwh=0.01, standby_loss_frac_per_h=0.001),
                "pv": {"peak_kw": 5.0, "tilt_deg": 30, "azimuth_deg": 90, "curtailable": False},
            },
        ],
        community=[
            {
                "id": "flow",
                "name": "flow",
                **battery(
                    capacity_kwh=30.0,
                    charge_efficiency_frac=0.8,
                    discharge_efficiency_frac=0.8,
                    cycle_cost_eur_per_kwh=0.02,
                ),
            }
        ],
        tariff={
            "kind": "fixed",
            "fixed_price_eur_per_kwh": 0.3,
            "peak_import_charge_eur_per_kw": 0.5,
        },
    )


def both_ways_kw(optimizer: DispatchOptimizer, first: str, second: str) -> np.ndarray:
    """min(first, second) per element: how much runs both ways at once."""
    x = optimizer.last_outcome.col_values
    backend = optimizer.backend
    return np.minimum(x[backend.columns_of(first)], x[backend.columns_of(second)])


series = st.lists(st.floats(0.0, 1.0), min_size=N, max_size=N).map(np.array)


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    import_frac=series,
    export_frac=series,
    load_frac=series,
    pv_frac=series,
    soc=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_plans_never_run_both_ways_where_the_rows_are_left_out(
    lossy_site, import_frac, export_frac, load_frac, pv_frac, soc
):
    # prices up to 0.6 EUR/kWh, some negative, some with export paid above import
    inputs = make_inputs(
        lossy_site,
        N,
        price=0.7 * import_frac - 0.1,
        export_price=0.5 * export_frac - 0.05,
        load={"h1": 4.0 * load_frac, "h2": 2.0 * load_frac[::-1]},
        pv={"h1.pv": 8.0 * pv_frac, "h2.pv": 5.0 * pv_frac},
        heat={"h1": 2.0 * load_frac},
    )
    state = DispatchState(soc_frac={"h1.battery": soc[0], "h2.battery": soc[1], "flow": soc[2]})
    optimizer = DispatchOptimizer(lossy_site, options=SCALE_OPTIONS)
    result = optimizer.solve(inputs, state)
    assert result.summary.status == "optimal"

    needed = direction_rows_needed(
        optimizer.model, coefficients(optimizer.model, inputs, state.completed(lossy_site))
    )
    grid_free = ~needed["dir_imp"]
    battery_free = ~needed["bat_ch_dir"]
    assert np.all(both_ways_kw(optimizer, "imp", "exp")[grid_free] <= TOL_KW)
    assert np.all(both_ways_kw(optimizer, "ch", "dis")[battery_free] <= TOL_KW)


def test_the_rows_are_in_the_model_exactly_where_prices_make_them_matter(lossy_site):
    price = np.array([0.3, -0.05, 0.0, 0.3, 0.1, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    export = np.array([0.05, 0.05, 0.05, -0.01, 0.1, 0.0, 0.4, 0.05, 0.05, 0.05, 0.05, 0.05])
    inputs = make_inputs(lossy_site, N, price=price, export_price=export)
    optimizer = DispatchOptimizer(lossy_site, options=SCALE_OPTIONS)
    optimizer.solve(inputs)
    coeffs = coefficients(optimizer.model, inputs, DispatchState().completed(lossy_site))
    needed = direction_rows_needed(optimizer.model, coeffs)

    battery_slots = np.zeros(N, dtype=bool)
    battery_slots[[1, 2, 3, 5]] = True  # negative or zero import or export price
    grid_slots = np.zeros(N, dtype=bool)
    grid_slots[[1, 2, 4, 6]] = True  # export paid at or above the import price
    np.testing.assert_array_equal(needed["dir_imp"], grid_slots)
    np.testing.assert_array_equal(needed["dir_exp"], grid_slots)
    n_batteries = len(optimizer.plant.batteries)
    np.testing.assert_array_equal(needed["bat_ch_dir"], np.tile(battery_slots, n_batteries))

    # the loaded HiGHS model holds the rows there and free rows elsewhere
    row_upper = np.asarray(optimizer.backend.highs.getLp().row_upper_)
    for row in DIRECTION_ROWS:
        upper = row_upper[optimizer.backend.rows_of(row)]
        assert np.all(np.isfinite(upper) == needed[row]), row
        assert np.all(upper[~needed[row]] >= 1e30), row


@pytest.mark.slow
def test_leaving_the_rows_out_changes_nothing_on_the_default_site():
    site = load_site()
    n = 96
    inputs = synthetic_inputs(site, START, n + 1, seed=7)
    scale = OptimizerOptions(horizon_slots=n, direction_rows_everywhere_up_to_batteries=0)
    optimizer = DispatchOptimizer(site, options=scale)
    result = optimizer.solve(inputs.window(0, n))
    assert result.summary.status == "optimal"
    # positive prices, export below import: no direction row in this solve
    row_upper = np.asarray(optimizer.backend.highs.getLp().row_upper_)
    for row in DIRECTION_ROWS:
        assert np.all(row_upper[optimizer.backend.rows_of(row)] >= 1e30), row

    # the reference: the default site's own setting, every direction row in every slot, solved
    # from scratch around the same COP linearisation (a cold start linearises again around its
    # first plan, and the rows may change which of several equally cheap first plans the solver
    # returns)
    reference = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=n))
    expected = reference.solve(inputs.window(0, n), linearisation=optimizer.linearisation)
    row_upper = np.asarray(reference.backend.highs.getLp().row_upper_)
    for row in DIRECTION_ROWS:
        assert np.all(row_upper[reference.backend.rows_of(row)] < 1e30), row
    assert expected.summary.objective_eur == pytest.approx(
        result.summary.objective_eur, rel=1e-9, abs=1e-9
    )
    # the optimum is not unique (a heat pump can run in either of two equally cheap slots), so
    # the plans are compared by what they cost, not slot by slot
    breakdown, reference_breakdown = (r.summary.cost_breakdown for r in (result, expected))
    for key, value in reference_breakdown.items():
        assert breakdown[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
