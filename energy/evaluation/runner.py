"""Evaluate several policies over one period and build their report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from energy.evaluation.bound import relaxation_bound
from energy.evaluation.closed_loop import EvaluationOptions, Policy, PolicyRun, run_policy
from energy.evaluation.report import EvaluationReport
from energy.evaluation.tuning import tune_thermostat
from energy.evaluation.valuation import Continuation
from energy.physics.profiles import district_profiles
from energy.site import Site
from energy.timegrid import SLOT, SLOT_MINUTES, as_utc

__all__ = ["evaluate"]

logger = logging.getLogger(__name__)


def evaluate(
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    policies: Sequence[Policy | str],
    options: EvaluationOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Run each policy in closed loop over [start, end) and compare them.

    progress(policy, done, total) after every slot; status(text) for set-up steps.
    """
    options = options or EvaluationOptions()
    start, end = as_utc(start), as_utc(end)
    chosen = list(dict.fromkeys(Policy(p) for p in policies))
    if not chosen:
        raise ValueError(
            "evaluate: expected at least one policy "
            f"({', '.join(p.value for p in Policy)}); found none"
        )
    # the energy every run leaves in store is valued against the same reference plan
    if status is not None:
        status("valuation: the plan after the period")
    continuation = Continuation.after(
        site, start, end, options.seed, options.valuation_horizon_slots, options.optimizer_options
    )
    runs: dict[str, PolicyRun] = {}
    tuned: dict[str, Any] = {}
    # rule-tuned first: its sweep runs the shipped rule too, which a rule run then reuses
    for policy in sorted(chosen, key=lambda p: p != Policy.RULE_TUNED):

        def step(done: int, total: int, name: str = policy.value) -> None:
            if progress is not None:
                progress(name, done, total)

        if policy == Policy.RULE_TUNED:
            tuning = tune_thermostat(site, start, end, options, status, continuation)
            runs[policy.value] = tuning.run
            if Policy.RULE in chosen:
                runs[Policy.RULE.value] = tuning.shipped
            tuned = {
                "thermostat_setpoint_c": tuning.setpoint_c,
                "sweep": [point.to_dict() for point in tuning.sweep],
            }
        elif policy.value not in runs:
            runs[policy.value] = run_policy(
                site, policy, start, end, options, step, status, continuation
            )
    runs = {p.value: runs[p.value] for p in chosen}
    meta: dict[str, Any] = {
        "site": site.id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "slot_minutes": SLOT_MINUTES,
        "options": {
            "horizon_slots": options.horizon_slots,
            "step_s": options.step_s,
            "seed": options.seed,
            "forecast_every_slots": options.forecast_every_slots,
            "training_days": options.training_days,
            "forecast_quantiles": list(options.forecast_config.quantiles),
            "command_timeout_s": options.timeout_s,
            "oracle_horizon_slots": options.oracle_horizon_slots,
            "oracle_replan_slots": options.oracle_replan_slots,
            "balancing": options.balancing,
        },
    }
    if tuned:
        meta["rule_tuned"] = tuned
    if options.bound:
        if status is not None:
            status("bound: the relaxed LP over the period")
        realised = district_profiles(
            site, start, end + options.valuation_horizon_slots * SLOT, options.seed
        )
        bound = relaxation_bound(site, start, end, realised, continuation)
        meta["bound_eur"] = bound.bound_eur
        meta["bound_relaxes"] = bound.relaxes
        meta["bound_blocks"] = bound.blocks
    return EvaluationReport(site.config, runs, meta)
