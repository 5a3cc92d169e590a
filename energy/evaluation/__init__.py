"""Closed-loop evaluation: the platform's control code against the simulated district.

`evaluate(site, start, end, ["rule-tuned", "mpc", "oracle"])` runs each policy with the live loop's
`PlanningCycle` and `commands_for_slot` on `DistrictSimulator` physics and returns an
`EvaluationReport`; `write_report` writes its CSV, JSON and HTML files. See docs/evaluation.md.
"""

from energy.evaluation.closed_loop import EvaluationOptions, Policy, PolicyRun, run_policy
from energy.evaluation.report import EvaluationReport, write_report
from energy.evaluation.runner import evaluate

__all__ = [
    "EvaluationOptions",
    "EvaluationReport",
    "Policy",
    "PolicyRun",
    "evaluate",
    "run_policy",
    "write_report",
]
