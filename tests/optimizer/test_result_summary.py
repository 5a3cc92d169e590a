"""DispatchSummary: a typed, frozen summary whose JSON keeps the keys of summary.json."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions, rule_based_plan
from tests.optimizer.conftest import battery, heat_pump, make_inputs, make_site, tank

#: the keys of summary.json (and of a stored plan's summary) before the summary was typed
JSON_KEYS = {
    "status",
    "stage",
    "model_status",
    "objective_kind",
    "objective_eur",
    "mip_gap",
    "cost_breakdown",
    "violations",
    "fallback",
    "duals_available",
    "horizon_start",
    "horizon_end",
    "n_slots",
    "n_variables",
    "n_constraints",
    "n_integer_variables",
    "simplex_iterations",
    "build_seconds",
    "solve_seconds",
    "highs_seconds",
    "extract_seconds",
    "total_seconds",
}


@pytest.fixture(scope="module")
def site():
    return make_site([{"id": "h1", "battery": battery(), "heat_pump": heat_pump(), "tank": tank()}])


def _inputs(site):
    return make_inputs(site, 8, load={"h1": np.linspace(0.5, 2.0, 8)}, heat={"h1": 1.0})


def test_solved_summary_is_typed_and_its_json_keeps_the_keys(site) -> None:
    result = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=8)).solve(_inputs(site))
    summary = result.summary
    assert summary.status == "optimal"
    assert summary.n_slots == 8
    assert summary.horizon_end - summary.horizon_start == 8 * (result.index[1] - result.index[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.objective_eur = 0.0  # type: ignore[misc]
    document = summary.to_json()
    assert set(document) == JSON_KEYS
    assert document["status"] == "optimal"
    assert document["horizon_start"] == result.index[0].isoformat()
    assert document["cost_breakdown"]["objective_eur"] == pytest.approx(summary.objective_eur)
    assert json.loads(json.dumps(document)) == document  # plain JSON types only


def test_rule_based_summary_has_the_same_keys_without_model_figures(site) -> None:
    result = rule_based_plan(site, _inputs(site), DispatchState())
    document = result.summary.to_json()
    assert set(document) == JSON_KEYS
    assert document["stage"] == "rule_based"
    assert document["fallback"] == [
        {"stage": "rule_based", "outcome": "used", "reason": "requested directly"}
    ]
    assert document["n_variables"] is None
