"""A rolling re-solve starts from the previous basis moved on by the slots the horizon moved.

The shifted basis is only a start: the optimum must be the one a solve without it finds, and it
must take the dual simplex fewer iterations (which is why it is there; the time is measured by
bench/optimizer_bench.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from energy.site import Site
from optimizer import DispatchOptimizer, DispatchResult, DispatchState, OptimizerOptions
from optimizer.highs_backend import (
    _element_indices,
    _one_slot_later,
    _slot_position,
    _slot_successors,
)
from optimizer.model import build_model
from optimizer.plant import Plant
from tests.optimizer.conftest import START, make_inputs

HORIZON = 32
STEPS = 8


def rolling_inputs(site: Site, first_slot: int):
    """Day-shaped prices, loads, PV and heat over the horizon starting at first_slot."""
    plant = Plant.from_site(site)
    t = np.arange(first_slot, first_slot + HORIZON)
    day = 2 * np.pi * t / 96
    return make_inputs(
        site,
        HORIZON,
        price=0.30 + 0.08 * np.sin(day) + 0.02 * np.cos(3 * day),
        export_price=0.08,
        temp=4.0 + 3.0 * np.sin(day),
        load={h: 0.6 + 0.3 * np.cos(day + k) for k, h in enumerate(plant.houses)},
        pv={u.id: np.clip(4.0 * np.sin(day - 1.0), 0.0, None) for u in plant.pvs},
        heat={h: 1.5 + 0.5 * np.cos(day) for h in plant.tank_houses},
        index=pd.date_range(
            START + first_slot * pd.Timedelta("15min"), periods=HORIZON, freq="15min"
        ),
    )


def state_after_first_slot(site: Site, result: DispatchResult) -> DispatchState:
    """The state the plan's first slot leads to: what the devices would report next."""
    plant = Plant.from_site(site)
    return DispatchState(
        soc_frac={b.id: float(result.values[(b.id, "soc_end_frac")][0]) for b in plant.batteries},
        tank_temp_c={
            p.tank_id: float(result.values[(p.tank_id, "temp_end_c")][0]) for p in plant.heat_pumps
        },
    )


def rolling_solves(site: Site, shift: bool) -> list[tuple[float, int]]:
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=HORIZON))
    if not shift:
        optimizer.backend.shift_basis = lambda slots: None  # type: ignore[method-assign]
    solves = []
    state = None
    for step in range(STEPS):
        result = optimizer.solve(rolling_inputs(site, step), state)
        state = state_after_first_slot(site, result)
        outcome = optimizer.last_outcome
        assert outcome is not None
        assert outcome.optimal
        solves.append((outcome.objective, outcome.simplex_iterations))
    return solves


def test_successors_point_one_slot_later(site: Site) -> None:
    backend = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=HORIZON)).backend
    cols, rows = backend._successors
    imp, ch = backend.columns_of("imp"), backend.columns_of("ch").reshape(-1, HORIZON)
    assert cols[imp[:-1]].tolist() == imp[1:].tolist()
    assert cols[imp[-1]] == imp[-1]
    assert (cols[ch[:, :-1]] == ch[:, 1:]).all()
    balance = backend.rows_of("balance")
    assert rows[balance[:-1]].tolist() == balance[1:].tolist()
    (peak,) = backend.columns_of("peak")
    assert cols[peak] == peak


@pytest.mark.parametrize("on_off", [False, True], ids=["lp", "on-off"])
def test_every_element_with_a_slot_points_at_the_same_element_a_slot_later(
    site: Site, on_off: bool
) -> None:
    """Checked element by element against a Pyomo model built anew (same components, same
    order): the backend derives the successors from whole index grids at load."""
    options = OptimizerOptions(horizon_slots=HORIZON, heat_pump_on_off=on_off)
    backend = DispatchOptimizer(site, options=options).backend
    model = build_model(site.config, Plant.from_site(site), options).formulation
    cols, rows = backend._successors
    checked = 0
    for kind, successors, indices in (
        (pyo.Var, cols, backend._var_cols),
        (pyo.Constraint, rows, backend._con_rows),
    ):
        for component in model.component_objects(kind):
            position = _slot_position(component, model.T)
            if position is None:
                continue
            where = dict(zip(component.keys(), indices[component.local_name].tolist(), strict=True))
            for key, here in where.items():
                if here < 0:
                    continue
                there = where.get(_one_slot_later(key, position), -1)
                assert successors[here] == (there if there >= 0 else here), (component.name, key)
                checked += 1
    assert checked > 0.9 * (backend.n_cols + backend.n_rows)


def test_shifted_basis_reaches_the_same_optimum_in_fewer_iterations(site: Site) -> None:
    shifted, plain = rolling_solves(site, shift=True), rolling_solves(site, shift=False)
    for (objective, _), (reference, _) in zip(shifted, plain, strict=True):
        assert objective == pytest.approx(reference, rel=1e-7, abs=1e-6)
    warm_shifted = sum(iterations for _, iterations in shifted[1:])
    warm_plain = sum(iterations for _, iterations in plain[1:])
    assert warm_shifted < warm_plain


def test_successors_in_a_component_with_skipped_slots_are_found_key_by_key() -> None:
    model = pyo.ConcreteModel()
    model.T = pyo.RangeSet(0, 3)
    model.U = pyo.RangeSet(0, 1)
    model.x = pyo.Var(model.U, model.T)
    model.c = pyo.Constraint(
        model.U,
        model.T,
        rule=lambda m, u, t: m.x[u, t] >= 0 if t != 2 else pyo.Constraint.Skip,
    )
    row_of = {id(element): i for i, element in enumerate(model.c.values())}
    successors = _slot_successors(
        model, pyo.Constraint, _element_indices(model, pyo.Constraint, row_of), row_of, 6
    )
    position = {key: i for i, key in enumerate(model.c.keys())}
    assert len(position) == 6
    for (u, t), i in position.items():
        assert successors[i] == position.get((u, t + 1), i)


def test_basis_read_from_the_basic_variables_is_the_one_highs_holds(site: Site) -> None:
    """`_basis_codes` rebuilds every status from HiGHS's basic variables, the bounds and the
    last solution: the basis it hands back after a shift is the one HiGHS held, moved."""
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=HORIZON))
    optimizer.solve(rolling_inputs(site, 0))
    backend = optimizer.backend
    assert backend._last_solution is not None
    codes = backend._basis_codes(backend._last_solution)
    assert codes is not None
    col_codes, row_codes = codes
    basis = backend.highs.getBasis()
    assert col_codes.tolist() == [int(s) for s in basis.col_status]
    assert row_codes.tolist() == [int(s) for s in basis.row_status]
    fixed = backend._col_lb == backend._col_ub
    equality = backend._row_lb == backend._row_ub
    # the cases the duals decide are there, on both sides
    assert fixed.any()
    assert equality.any()
    assert set(row_codes[equality & (row_codes != 1)].tolist()) == {0, 2}
