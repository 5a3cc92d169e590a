"""The per-solve fast paths give exactly what the plain computations give.

- `HighsBackend.push` rewrites only the matrix coefficients (COP) that changed, and the loaded
  model still equals a fresh compile after any sequence of changes;
- the plan's series are the solution's columns and duals, computed per asset exactly as written
  in the formulation;
- violation runs found on whole arrays equal a slot-by-slot scan.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from energy.timegrid import SLOT_HOURS
from optimizer import GRID_ID, DispatchOptimizer, OptimizerOptions
from optimizer.result import VIOLATION_TOLERANCE, _runs
from tests.optimizer.test_persistent_updates import (
    BASE_STATE,
    N,
    assert_same_lp,
    base_inputs,
    compiled_reference,
    loaded,
)
from tests.optimizer.test_persistent_updates import (
    site as site,  # the module's fixture
)


class _CountingHighs:
    """Passes every call to the real highspy object and records the model changes."""

    def __init__(self, highs: Any):
        self._highs = highs
        self.coefficients: list[tuple[int, int, float]] = []
        self.row_bounds: list[list[int]] = []

    def changeCoeff(self, row: int, col: int, value: float) -> Any:  # noqa: N802 (highspy name)
        self.coefficients.append((row, col, value))
        return self._highs.changeCoeff(row, col, value)

    def changeRowsBounds(self, n: int, rows: Any, lower: Any, upper: Any) -> Any:  # noqa: N802
        self.row_bounds.append(sorted(int(r) for r in rows))
        return self._highs.changeRowsBounds(n, rows, lower, upper)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._highs, name)


def test_push_rewrites_only_the_changed_coefficients(site):
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=N))
    inputs, state = base_inputs(site), BASE_STATE
    optimizer.solve(inputs, state)
    counting = _CountingHighs(optimizer.backend.highs)
    optimizer.backend.highs = counting
    # the COP linearised around the same tank temperatures each time
    point = optimizer.linearisation

    optimizer.solve(inputs, state, point)
    assert counting.coefficients == []

    colder = inputs.temp_outdoor_c.copy()
    colder[2] -= 5.0
    changed = dataclasses.replace(inputs, temp_outdoor_c=colder)
    optimizer.solve(changed, state, point)
    # the one COP that depends on the outdoor temperature (h1's air-source unit) at slot 2
    assert [(col, value < 0) for _, col, value in counting.coefficients] == [
        (int(optimizer.backend.columns_of("hp")[2]), True)
    ]
    assert_same_lp(loaded(optimizer), compiled_reference(optimizer, changed, state))

    counting.coefficients.clear()
    optimizer.solve(inputs, state, point)  # and back
    assert len(counting.coefficients) == 1
    assert_same_lp(loaded(optimizer), compiled_reference(optimizer, inputs, state))


def test_push_rewrites_only_the_changed_row_bounds(site):
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=N))
    inputs, state = base_inputs(site), BASE_STATE
    optimizer.solve(inputs, state)
    counting = _CountingHighs(optimizer.backend.highs)
    optimizer.backend.highs = counting
    balance = optimizer.backend.rows_of("balance")

    optimizer.solve(inputs, state)  # nothing changed: every bound row, as always
    assert len(counting.row_bounds[-1]) == len(optimizer.backend._pushes.bound_rows)

    load = dict(inputs.load_kw)
    load["h2"] = np.asarray(load["h2"], dtype=float) + np.eye(N)[3]  # slot 3 only
    changed = dataclasses.replace(inputs, load_kw=load)
    optimizer.solve(changed, state)
    assert counting.row_bounds[-1] == [int(balance[3])]
    assert_same_lp(loaded(optimizer), compiled_reference(optimizer, changed, state))


def test_plan_series_are_the_solution_columns(site):
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=N))
    inputs = base_inputs(site)
    result = optimizer.solve(inputs, BASE_STATE)
    outcome = optimizer.last_outcome
    assert outcome is not None
    assert outcome.row_duals is not None
    backend, plant = optimizer.backend, optimizer.plant
    x = outcome.col_values

    def var(name: str, k: int) -> np.ndarray:
        return x[backend.columns_of(name)].reshape(-1, N)[k]

    values = result.values
    np.testing.assert_array_equal(
        values[(GRID_ID, "balance_price_eur_per_kwh")],
        outcome.row_duals[backend.rows_of("balance")] / SLOT_HOURS,
    )
    for b, unit in enumerate(plant.batteries):
        np.testing.assert_array_equal(values[(unit.id, "power_kw")], var("ch", b) - var("dis", b))
        np.testing.assert_array_equal(
            values[(unit.id, "soc_end_frac")], var("e", b) / unit.config.capacity_kwh
        )
    for j, pv in enumerate(plant.pvs):
        np.testing.assert_array_equal(
            values[(pv.id, "curtailed_kw")],
            np.clip(np.asarray(inputs.pv_kw[pv.id]) - var("pv", j), 0.0, None),
        )
    for h, pump in enumerate(plant.heat_pumps):
        power = var("hp", h)
        cop = values[(pump.id, "cop")]
        np.testing.assert_array_equal(values[(pump.id, "power_kw")], power)
        np.testing.assert_array_equal(values[(pump.id, "heat_kw")], cop * power)
        np.testing.assert_array_equal(values[(pump.id, "on")], (power > 1e-6).astype(float))
        np.testing.assert_array_equal(
            values[(pump.tank_id, "temp_end_c")],
            pump.tank.temp_min_c + var("q", h) / pump.capacity_kwh_per_k,
        )


def _runs_slot_by_slot(amount: np.ndarray) -> list[tuple[int, int, float]]:
    out, t, n = [], 0, len(amount)
    while t < n:
        if not amount[t] > VIOLATION_TOLERANCE:
            t += 1
            continue
        end = t
        while end + 1 < n and amount[end + 1] > VIOLATION_TOLERANCE:
            end += 1
        out.append((t, end, float(amount[t : end + 1].max())))
        t = end + 1
    return out


@pytest.mark.parametrize("seed", range(6))
def test_violation_runs_equal_a_slot_by_slot_scan(seed):
    rng = np.random.default_rng(seed)
    n = 40
    index = pd.date_range("2026-01-01", periods=n, freq="15min", tz="UTC")
    amount = np.where(rng.random(n) < 0.4, rng.uniform(0.0, 2.0, n), 0.0)
    amount[rng.integers(0, n)] = VIOLATION_TOLERANCE  # at the tolerance: not a violation
    if seed % 2:
        amount[0] = amount[-1] = 1.0  # runs touching both ends
    found = _runs(index, amount, "limit", "asset", "kWh", "detail")
    expected = _runs_slot_by_slot(amount)
    assert [
        (index.get_loc(v.first_slot), index.get_loc(v.last_slot), v.max_amount) for v in found
    ] == expected
    assert all(
        v.n_slots == index.get_loc(v.last_slot) - index.get_loc(v.first_slot) + 1 for v in found
    )
    assert all(
        (v.limit, v.asset_id, v.unit, v.detail) == ("limit", "asset", "kWh", "detail")
        for v in found
    )


def test_violation_runs_of_a_clean_and_a_fully_violated_series():
    index = pd.date_range("2026-01-01", periods=5, freq="15min", tz="UTC")
    assert _runs(index, np.zeros(5), "limit", "a", "K") == []
    (run,) = _runs(index, np.array([1.0, 2.0, 3.0, 2.0, 1.0]), "limit", "a", "K")
    assert (run.first_slot, run.last_slot, run.n_slots, run.max_amount) == (
        index[0],
        index[-1],
        5,
        3.0,
    )
