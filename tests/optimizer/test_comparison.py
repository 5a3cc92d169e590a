"""The plan against local control: same inputs, costed alike; the optimizer never loses."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import DispatchOptimizer, DispatchState, rule_based_plan
from optimizer.comparison import compare_with_local_control
from tests.optimizer.conftest import battery, make_inputs, make_site


def test_a_price_spread_is_worth_money_and_the_battery_carries_it():
    site = make_site([{"id": "h1", "battery": battery()}])
    slots = 16
    price = np.where(np.arange(slots) < 8, 0.10, 0.40)  # cheap first half, dear second half
    inputs = make_inputs(site, slots, price=price, load={"h1": 2.0})
    state = DispatchState(soc_frac={"h1.battery": 0.2})
    planned = DispatchOptimizer(site, horizon_slots=slots).solve(inputs, state)
    comparison = compare_with_local_control(site, inputs, state, planned)
    local, plan = comparison["local"], comparison["plan"]
    assert comparison["saving_eur"] == local["objective_eur"] - plan["objective_eur"]
    assert comparison["saving_eur"] > 0.01
    battery_figures = comparison["assets"]["h1.battery"]
    assert battery_figures["shifted_kwh"] > 0.5
    # one device and nothing left in store at the end: it carries the whole saving
    assert battery_figures["saving_eur"] == pytest.approx(comparison["saving_eur"])
    assert battery_figures["plan_kwh"] > battery_figures["local_kwh"]


def test_local_control_compared_with_itself_is_worth_nothing():
    site = make_site([{"id": "h1", "battery": battery()}])
    inputs = make_inputs(site, 8, load={"h1": 1.0}, pv={})
    state = DispatchState(soc_frac={"h1.battery": 0.5})

    local = rule_based_plan(site, inputs, state)
    comparison = compare_with_local_control(site, inputs, state, local)
    assert comparison["saving_eur"] == 0.0
    assert comparison["assets"]["h1.battery"]["shifted_kwh"] == 0.0
