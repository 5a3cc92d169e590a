"""Study tasks: the CPU estimate that orders them (longest first) on a cluster."""

from __future__ import annotations

import pandas as pd

from energy.study.tasks import StudyTask

START = pd.Timestamp("2026-03-02T00:00Z")


def task(policy: str, days: float) -> StudyTask:
    return StudyTask(
        variant="as-built",
        policy=policy,
        period="p",
        seed=0,
        start=START,
        end=START + pd.Timedelta(days=days),
        site_data={},
        options={},
    )


def test_planning_policies_and_longer_periods_are_expected_to_take_longer() -> None:
    assert task("mpc", 1).expected_cpu > task("rule-tuned", 1).expected_cpu
    assert task("rule-tuned", 1).expected_cpu > task("rule", 1).expected_cpu
    assert task("rule", 30).expected_cpu > task("rule", 1).expected_cpu
    assert task("mpc", 7).expected_cpu == 7 * task("mpc", 1).expected_cpu
    # a policy the estimate does not know counts as the dearest one
    assert task("future-policy", 1).expected_cpu >= task("oracle", 1).expected_cpu
