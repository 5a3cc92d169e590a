"""Evaluate several policies over one period and build their report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from energy.evaluation.closed_loop import EvaluationOptions, Policy, PolicyRun, run_policy
from energy.evaluation.report import EvaluationReport
from energy.site import Site
from energy.timegrid import SLOT_MINUTES, as_utc

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
        raise ValueError("evaluate: expected at least one policy (rule, mpc, perfect); found none")
    runs: dict[str, PolicyRun] = {}
    for policy in chosen:

        def step(done: int, total: int, name: str = policy.value) -> None:
            if progress is not None:
                progress(name, done, total)

        runs[policy.value] = run_policy(site, policy, start, end, options, step, status)
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
        },
    }
    return EvaluationReport(site.config, runs, meta)
