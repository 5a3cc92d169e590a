"""The yardsticks a controller is measured against: the tuned local controllers, the oracle, the
relaxation's bound, and how closely the devices follow a plan."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from energy.evaluation import EvaluationOptions, Policy, evaluate, run_policy
from energy.evaluation.metrics import run_summary, slot_frame
from energy.evaluation.tracking import plan_tracking
from energy.evaluation.tuning import tune_thermostat
from energy.site import Site
from forecasting.config import ForecastConfig

#: Sunday 4 October 2026: the weekly anti-legionella program starts at 13:00 CEST (11:00 UTC)
SUNDAY = pd.Timestamp("2026-10-04T00:00:00Z")
NO_BOUND = EvaluationOptions(bound=False)


def cost_with_stored_energy(site: Site, run) -> float:
    return run_summary(site.config, run, slot_frame(site.config, run))[
        "cost_with_stored_energy_eur"
    ]


@pytest.mark.slow
def test_rule_tuned_picks_the_cheapest_setpoint_that_keeps_comfort(site: Site) -> None:
    tuning = tune_thermostat(site, SUNDAY, SUNDAY + pd.Timedelta(days=1), NO_BOUND)
    shipped, *tried = tuning.sweep
    assert shipped.setpoint_c is None
    # the site has an EV charger: the tuned controllers run the shipped setpoint once more
    assert tried[0].setpoint_c is None
    assert not shipped.ev_charging_timed
    assert all(p.ev_charging_timed for p in tried)
    setpoints = [p.setpoint_c for p in tried[1:]]
    assert setpoints == sorted(setpoints, reverse=True)
    keeping = [p for p in tried if p.comfort_violation_kh <= shipped.comfort_violation_kh]
    chosen = next(p for p in tried if p.setpoint_c == tuning.setpoint_c)
    assert chosen in keeping
    assert chosen.cost_with_stored_energy_eur == min(p.cost_with_stored_energy_eur for p in keeping)
    # a cooler tank is cheaper: the sweep leaves the shipped 50 degC
    assert tuning.setpoint_c is not None
    assert tuning.setpoint_c < 50.0
    assert chosen.cost_with_stored_energy_eur < tried[0].cost_with_stored_energy_eur
    assert tried[0].cost_with_stored_energy_eur < shipped.cost_with_stored_energy_eur
    assert tuning.run.policy == Policy.RULE_TUNED
    assert cost_with_stored_energy(site, tuning.run) == pytest.approx(
        chosen.cost_with_stored_energy_eur
    )
    # the sweep stops at the first setpoint that loses comfort, or at the band's bottom
    last = tried[-1]
    assert last.comfort_violation_kh > shipped.comfort_violation_kh or last.setpoint_c == 40.0


@pytest.mark.slow
def test_every_policy_runs_the_legionella_program(site: Site) -> None:
    options = EvaluationOptions(
        training_days=14, forecast_config=ForecastConfig(quantiles=[0.5]), bound=False
    )
    start, end = SUNDAY + pd.Timedelta(hours=8), SUNDAY + pd.Timedelta(hours=16)
    report = evaluate(site, start, end, [p.value for p in Policy], options)
    for policy, summary in report.summary["policies"].items():
        per_tank = summary["legionella"]["by_tank"]
        assert len(per_tank) == 7, policy
        assert all(t == {"completed": 1, "missed": 0} for t in per_tank.values()), (
            policy,
            per_tank,
        )


@pytest.fixture(scope="module")
def october_day(site: Site) -> dict[str, Any]:
    options = EvaluationOptions(training_days=14, forecast_config=ForecastConfig(quantiles=[0.5]))
    start = pd.Timestamp("2026-10-06T00:00:00Z")
    report = evaluate(site, start, start + pd.Timedelta(days=1), ["mpc", "oracle"], options)
    return report.summary


@pytest.mark.slow
def test_the_bound_is_below_every_policy(october_day: dict[str, Any]) -> None:
    cost = october_day["comparison"]["cost_with_stored_energy_eur"]
    assert october_day["bound_eur"] <= min(cost.values())
    assert "lower bound" in october_day["bound_relaxes"]


@pytest.mark.slow
def test_the_oracle_is_not_costlier_than_mpc(october_day: dict[str, Any]) -> None:
    # was a known gap on the previous default site (docs/evaluation.md: the oracle's week-long
    # plan left the community flow battery idle and lost about 1 EUR on this day); the default
    # site of issue 22 has no community battery, and the oracle is no longer costlier
    cost = october_day["comparison"]["cost_with_stored_energy_eur"]
    assert cost["oracle"] <= cost["mpc"] + 0.01


#: How far a day's metered energy may stray from the plans' first slots (docs/evaluation.md):
#: every kind within a fifth. Continuous units run at least electric_min_kw, which the LP does
#: not model, so a plan's low power is run as a shorter run at the minimum that the next plans
#: coast on (14 % over the plans on 6 October 2026).
TRACKING_TOLERANCE_FRAC = {
    "heat_pump_continuous": 0.2,
    "heat_pump_sg_ready": 0.2,
    "battery_house": 0.2,
}


@pytest.mark.slow
def test_a_day_under_perfect_forecasts_follows_its_plans(site: Site) -> None:
    start = pd.Timestamp("2026-10-06T00:00:00Z")
    run = run_policy(site, Policy.PERFECT_FORECAST, start, start + pd.Timedelta(days=1), NO_BOUND)
    tracking = plan_tracking(run.slots)
    # the default site has no community battery: nothing planned, nothing metered
    assert tracking.pop("battery_community")["metered_abs_kwh"] == 0.0
    # the charger's limit is the planned power: whatever it was, it is what charged (on this
    # day the car arriving in the evening is charged after midnight, beyond the run)
    charger = tracking.pop("ev_charger")
    assert charger["metered_kwh"] == pytest.approx(charger["planned_kwh"], abs=0.5)
    # the grid connection is tracked too (how balancing holds it: tests/energy/evaluation/
    # test_closed_loop.py)
    grid = tracking.pop("grid_exchange")
    assert grid["slots"] == 96
    assert grid["metered_abs_kwh"] > 1.0
    assert set(tracking) == set(TRACKING_TOLERANCE_FRAC)
    for kind, tolerance in TRACKING_TOLERANCE_FRAC.items():
        figures = tracking[kind]
        assert figures["slots"] == 96
        planned, metered = figures["planned_abs_kwh"], figures["metered_abs_kwh"]
        assert planned > 1.0, kind
        assert abs(metered - planned) <= tolerance * planned, (kind, figures)
