"""The rule-tuned EV charger charges in the cheapest quarter hours before each departure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.evaluation import EvaluationOptions, Policy, run_policy
from energy.evaluation.timed_charging import _next_departure
from energy.site import Site
from energy.tariff import tariff_series

#: Monday 5 October 2026, 18:00 CEST: the carport's car arrives needing 14 kWh by 07:30
EVENING = pd.Timestamp("2026-10-05T16:00:00Z")
NIGHT = (EVENING, EVENING + pd.Timedelta(hours=14))


def test_next_departure_points_at_the_first_departing_slot_ahead() -> None:
    departs = np.array([False, True, False, False, True, False])
    assert _next_departure(departs).tolist() == [1, 1, 4, 4, 4, 6]


@pytest.fixture(scope="module")
def night_runs(site: Site) -> dict[Policy, pd.DataFrame]:
    options = EvaluationOptions(bound=False, valuation_horizon_slots=4)
    return {
        policy: run_policy(site, policy, *NIGHT, options).slots
        for policy in (Policy.RULE, Policy.RULE_TUNED)
    }


def test_the_car_gets_the_same_energy_in_the_cheapest_slots(
    site: Site, night_runs: dict[Policy, pd.DataFrame]
) -> None:
    shipped, tuned = night_runs[Policy.RULE], night_runs[Policy.RULE_TUNED]
    assert tuned["ev_charging_kwh"].sum() == pytest.approx(shipped["ev_charging_kwh"].sum())
    assert tuned["ev_short_kwh"].sum() == 0.0
    # the shipped wallbox charges on arrival, the tuned one where the import price is lowest
    assert shipped["ev_charging_kwh"].iloc[0] > 0
    price = tariff_series(site.config, pd.DatetimeIndex(tuned.index)).price_import_eur_per_kwh
    charging = tuned["ev_charging_kwh"] > 0
    assert price[charging].max() <= price[~charging].min() + 1e-12
    assert (tuned["ev_charging_kwh"] * price).sum() < (shipped["ev_charging_kwh"] * price).sum()
