"""Dispatch optimizer: plans batteries and heat pumps of a district over a rolling horizon.

Typical use (model predictive control, one instance per worker)::

    from energy.site import load_site
    from optimizer import DispatchOptimizer, DispatchState

    site = load_site()
    optimizer = DispatchOptimizer(site, horizon_slots=144)
    result = optimizer.solve(inputs, DispatchState(soc_frac={"house-01.battery": 0.4}))
    result.plan          # tidy DataFrame: slot_start, asset_id, quantity, value
    result.summary       # DispatchSummary: status, objective, cost breakdown, violations, timings,
                         # fallback steps; .to_json() for summary.json

The model is built and loaded into HiGHS once; every `solve` only pushes new inputs and re-solves
warm. See docs/optimizer.md for the formulation, the file formats and the fallback chain.
"""

from optimizer.dispatch import DispatchOptimizer, rule_based_plan
from optimizer.inputs import DispatchInputs, DispatchState, InputError
from optimizer.options import (
    DEFAULT_HORIZON_SLOTS,
    OptimizerOptions,
    SolverOptionError,
    validate_highs_options,
)
from optimizer.result import (
    GRID_ID,
    DispatchResult,
    DispatchSummary,
    FallbackStep,
    PlanStatus,
    SolveStage,
    Violation,
    evaluate_plan,
)
from optimizer.scenarios import synthetic_inputs

__all__ = [
    "DEFAULT_HORIZON_SLOTS",
    "GRID_ID",
    "DispatchInputs",
    "DispatchOptimizer",
    "DispatchResult",
    "DispatchState",
    "DispatchSummary",
    "FallbackStep",
    "InputError",
    "OptimizerOptions",
    "PlanStatus",
    "SolveStage",
    "SolverOptionError",
    "Violation",
    "evaluate_plan",
    "rule_based_plan",
    "synthetic_inputs",
    "validate_highs_options",
]
