"""Tasks of a study: one closed-loop evaluation of one (variant, policy, period, seed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energy.study.spec import StudySpec

__all__ = ["StudyTask", "expand_tasks"]

#: Rough CPU per simulated hour of each policy, relative to the shipped rule (per-task serial
#: times of `bench/study_bench.py --hours 168` on the default site: rule 3-7 s, rule-tuned
#: 15-22 s, which sweeps several setpoints of the rule, mpc 18-33 s, which solves an LP every
#: slot; the oracle plans week-long horizons besides). Only the order matters: it schedules the
#: longest tasks first.
RELATIVE_CPU_PER_HOUR = {
    "rule": 1.0,
    "rule-tuned": 4.0,
    "mpc": 6.0,
    "perfect-forecast": 6.0,
    "oracle": 7.0,
}


@dataclass(frozen=True)
class StudyTask:
    """Everything a worker needs: the variant's site data travels with the task, so a worker
    on another machine needs the package installed and no files."""

    variant: str
    policy: str
    period: str
    seed: int
    start: pd.Timestamp
    end: pd.Timestamp
    site_data: dict[str, Any]
    options: dict[str, Any]

    @property
    def task_id(self) -> str:
        return f"{self.variant}__{self.policy}__{self.period}__seed{self.seed}"

    @property
    def expected_cpu(self) -> float:
        """A relative CPU estimate (hours of the period x the policy's weight): the engine starts
        the longest tasks first, so that no worker is left with a long task at the end while
        the others idle."""
        hours = (self.end - self.start) / pd.Timedelta(hours=1)
        return hours * RELATIVE_CPU_PER_HOUR.get(self.policy, max(RELATIVE_CPU_PER_HOUR.values()))

    @property
    def fingerprint(self) -> str:
        """Hash of every input: a finished result counts only if it was made from the same."""
        inputs = {
            "policy": self.policy,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "site": self.site_data,
            "options": self.options,
        }
        text = json.dumps(inputs, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def expand_tasks(spec: StudySpec, sites: dict[str, dict[str, Any]]) -> list[StudyTask]:
    """Every (variant, policy, period, seed), variants outermost, in spec order."""
    options = spec.options.model_dump()
    return [
        StudyTask(
            variant=variant.name,
            policy=policy.value,
            period=period.name,
            seed=seed,
            start=period.start,
            end=period.end,
            site_data=sites[variant.name],
            options=options,
        )
        for variant in spec.all_variants()
        for policy in spec.policies
        for period in spec.periods
        for seed in spec.seeds
    ]
