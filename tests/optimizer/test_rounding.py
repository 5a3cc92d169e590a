"""The MILP start: on/off schedules rounded from the LP relaxation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions
from optimizer.plant import Plant, sg_ready_levels_kw
from optimizer.rounding import round_heat_pump_schedule
from tests.optimizer.conftest import heat_pump, make_inputs, make_site, tank


@pytest.fixture(scope="module")
def units():
    site = make_site(
        [
            {
                "id": "h1",
                "heat_pump": heat_pump(electric_min_kw=1.0, min_on_minutes=45, min_off_minutes=30),
                "tank": tank(),
            },
            {
                "id": "h2",
                "heat_pump": heat_pump(
                    control="sg_ready", electric_min_kw=1.0, electric_max_kw=3.0
                ),
                "tank": tank(),
            },
        ]
    )
    return Plant.from_site(site).heat_pumps


def runs(on):
    """(state, length) of the runs that start and end inside the horizon: the first continues a
    state from before the horizon, the last is cut by its end."""
    edges = np.flatnonzero(np.diff(on)) + 1
    return [(on[a], b - a) for a, b in itertools.pairwise(edges)]


def test_schedule_follows_the_relaxation_energy_and_minimum_times(units):
    unit = units[0]
    lp = np.tile([0.4, 0.4, 0.4, 0.4, 0.0, 0.0, 2.0, 2.0], 4)
    on, sg = round_heat_pump_schedule(unit, lp, np.full(len(lp), 3.0), DispatchState())
    assert sg is None
    for state, length in runs(on):
        assert length >= (3 if state else 2)
    delivered = np.where(on > 0, np.maximum(lp, 1.0), 0.0).sum()
    assert abs(delivered - lp.sum()) <= 3 * 1.0 + 1e-9  # within one minimum run of the LP


def test_carry_over_and_caps_are_respected(units):
    unit = units[0]
    lp = np.full(8, 1.5)
    state = DispatchState(hp_on={"h1.hp": False}, hp_minutes_in_state={"h1.hp": 0.0})
    cap = np.array([3, 3, 3, 0.5, 3, 3, 3, 3], dtype=float)
    on, _ = round_heat_pump_schedule(unit, lp, cap, state)
    assert on[0] == 0
    assert on[1] == 0
    assert on[3] == 0  # the cap is below the minimum power


def test_sg_ready_levels_are_chosen_within_the_cap(units):
    unit = units[1]
    levels = sg_ready_levels_kw(unit.config)
    lp = np.array([0.0, 1.9, 1.9, 2.9, 2.9, 2.9])
    cap = np.array([3.0, 3.0, 3.0, 3.0, 2.5, 3.0])
    on, sg = round_heat_pump_schedule(unit, lp, cap, DispatchState())
    assert sg is not None
    np.testing.assert_array_equal(sg.sum(axis=0), on)
    power = np.array([levels[2], levels[3], levels[4]]) @ sg
    assert np.all(power <= cap + 1e-9)
    assert power[3] == levels[4]
    assert power[4] == levels[3]  # forced-on level is above the cap


def test_milp_with_start_keeps_minimum_times(units):
    site = make_site(
        [
            {
                "id": "h1",
                "heat_pump": heat_pump(electric_min_kw=1.0, min_on_minutes=45, min_off_minutes=30),
                "tank": tank(initial_temp_c=45.0),
            }
        ]
    )
    prices = np.tile([0.1, 0.1, 0.5, 0.5, 0.5, 0.2], 4)
    inputs = make_inputs(site, 24, price=prices, heat={"h1": 1.2})
    optimizer = DispatchOptimizer(
        site, options=OptimizerOptions(horizon_slots=24, heat_pump_on_off=True)
    )
    result = optimizer.solve(inputs)
    assert result.stage == "milp"
    on = result.values[("h1.hp", "on")]
    power = result.values[("h1.hp", "power_kw")]
    assert np.all((power < 1e-9) | (power >= 1.0 - 1e-9))
    np.testing.assert_array_equal(on, (power > 1e-9).astype(float))
    for state, length in runs(on):
        assert length >= (3 if state else 2)
