"""EV chargers in the plan: each session's energy by its departure, within the charger's power,
at the cheapest slots; what cannot arrive is short (penalised, reported) and stays needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import balance_residual, make_inputs, make_site
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.ev import session_marks
from energy.timegrid import SLOT_HOURS
from optimizer import DispatchOptimizer, DispatchState, PlanStatus, rule_based_plan

# Thursday 2026-01-15, 00:00 UTC = 01:00 local: sessions are local wall-clock times
START = pd.Timestamp("2026-01-15T00:00:00Z")
N = 32  # 01:00 .. 09:00 local


def charger(**overrides):
    spec = {
        "id": "carport-ev",
        "name": "Carport",
        "charge_max_kw": 4.0,
        "charging_efficiency_frac": 0.9,
        "vehicle_capacity_kwh": 40.0,
        "unmet_penalty_eur_per_kwh": 1.0,
        # plugged in 02:00 .. 08:00 local on a Thursday (weekday 3): slots 4 .. 27
        "sessions": [
            {"weekdays": [3], "arrive_local": "01:30", "depart_local": "08:00", "energy_kwh": 9.0}
        ],
    }
    spec.update(overrides)
    return spec


@pytest.fixture(scope="module")
def ev_site():
    return make_site([{"id": "h1"}], ev_chargers=[charger()])


def test_sessions_on_the_slot_grid(ev_site):
    index = pd.date_range(START, periods=N, freq="15min")
    marks = session_marks(ev_site.config.ev_chargers[0], index, ev_site.tz)
    assert np.flatnonzero(marks.plugged).tolist() == list(range(2, 28))
    assert np.flatnonzero(marks.arrival_kwh).tolist() == [2]
    assert marks.arrival_kwh[2] == 9.0
    assert np.flatnonzero(marks.departs).tolist() == [27]


def test_charges_the_need_in_the_cheapest_plugged_slots(ev_site):
    price = np.full(N, 0.40)
    cheap = [*range(10, 16), *range(20, 24)]
    price[cheap] = 0.10
    price[0:2] = 0.01  # cheaper still, but the car is not there yet
    inputs = make_inputs(ev_site, N, price=price)
    result = DispatchOptimizer(ev_site, horizon_slots=N).solve(inputs)
    assert result.status == PlanStatus.OPTIMAL
    power = result.values[("carport-ev", "power_kw")]
    need = result.values[("carport-ev", "need_end_kwh")]
    # 9 kWh into the car = 10 kWh AC = 4 kW over 10 slots: all in the ten cheap slots
    assert power.sum() * SLOT_HOURS == pytest.approx(10.0)
    assert power[:2].max() == 0.0
    assert power.max() <= 4.0 + 1e-9
    assert power[[i for i in range(N) if i not in cheap]].max() == pytest.approx(0.0, abs=1e-9)
    assert need[27] == pytest.approx(0.0, abs=1e-9)
    assert result.violations == ()
    assert result.summary.ev_charging_kwh == pytest.approx(10.0)
    assert result.summary.ev_short_kwh == pytest.approx(0.0, abs=1e-9)
    stored = result.summary.to_json()["cost_breakdown"]  # the keys of summary.json
    assert stored["ev_charging_kwh"] == result.summary.ev_charging_kwh
    assert stored["self_sufficiency_frac"] == result.summary.self_sufficiency_frac
    np.testing.assert_allclose(balance_residual(ev_site, inputs, result), 0.0, atol=1e-7)


def test_need_beyond_the_chargers_power_is_short_and_reported(ev_site):
    # 26 plugged slots x 4 kW x 0.25 h x 0.9 = 23.4 kWh at most; the car needs 9 + 20
    inputs = make_inputs(ev_site, N)
    state = DispatchState(ev_need_kwh={"carport-ev": 20.0})
    result = DispatchOptimizer(ev_site, horizon_slots=N).solve(inputs, state)
    power = result.values[("carport-ev", "power_kw")]
    assert power[2:28] == pytest.approx(np.full(26, 4.0))
    short = result.summary.ev_short_kwh
    assert short == pytest.approx(29.0 - 26 * 4.0 * 0.9 * SLOT_HOURS)
    [violation] = result.violations
    assert (violation.limit, violation.asset_id) == ("ev_energy_short", "carport-ev")
    assert violation.first_slot == START + 27 * pd.Timedelta(minutes=15)


def test_a_dimming_cap_limits_the_charger(ev_site):
    inputs = make_inputs(ev_site, N, cap={"carport-ev": 1.5})
    result = DispatchOptimizer(ev_site, horizon_slots=N).solve(inputs)
    assert result.values[("carport-ev", "power_kw")].max() <= 1.5 + 1e-9


def test_rule_based_plan_charges_on_arrival(ev_site):
    inputs = make_inputs(ev_site, N, price=np.linspace(0.5, 0.1, N))
    result = rule_based_plan(ev_site, inputs)
    power = result.values[("carport-ev", "power_kw")]
    assert power[2:4] == pytest.approx([4.0, 4.0])
    assert power.sum() * SLOT_HOURS == pytest.approx(10.0)
    assert np.flatnonzero(power).tolist() == list(range(2, 12))  # 10 kWh AC at full power
    assert result.summary.ev_short_kwh == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    need_kwh=st.floats(0.0, 30.0),
    prices=st.lists(st.floats(0.0, 1.0), min_size=N, max_size=N),
)
def test_plan_never_exceeds_the_charger_or_the_need(ev_site, need_kwh, prices):
    inputs = make_inputs(ev_site, N, price=np.asarray(prices))
    result = DispatchOptimizer(ev_site, horizon_slots=N).solve(
        inputs, DispatchState(ev_need_kwh={"carport-ev": need_kwh})
    )
    power = result.values[("carport-ev", "power_kw")]
    assert power.min() >= -1e-9
    assert power.max() <= 4.0 + 1e-9
    assert power[:2].max() <= 1e-9
    assert power[28:].max() <= 1e-9
    delivered = power.sum() * SLOT_HOURS * 0.9
    assert delivered <= need_kwh + 9.0 + 1e-6
    short = result.summary.ev_short_kwh
    # at a penalty of 1 EUR/kWh above every price, everything that fits arrives
    assert delivered + short == pytest.approx(need_kwh + 9.0, abs=1e-6)


def test_a_blend_objective_never_makes_a_short_car_cheaper_than_charging() -> None:
    # every kWh imported weighs 2 EUR more than it costs, twice the unmet penalty
    blend = {"kind": "blend", "cost_weight": 1.0, "grid_import_weight_per_kwh": 2.0}
    site = make_site([{"id": "h1"}], ev_chargers=[charger()], objective=blend)
    result = DispatchOptimizer(site, horizon_slots=N).solve(make_inputs(site, N))
    assert result.summary.ev_short_kwh == pytest.approx(0.0, abs=1e-9)
    assert result.summary.ev_charging_kwh == pytest.approx(10.0)
