"""One study task on whichever process runs it: the closed-loop evaluation of one policy."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energy.config import SiteConfig
from energy.evaluation import EvaluationOptions, evaluate
from energy.evaluation.report import plain_json
from energy.site import Site
from energy.study.tasks import StudyTask

__all__ = ["TaskResult", "run_task"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskResult:
    """What a task sends back: its summary (JSON-ready) and per-slot series."""

    task_id: str
    summary: dict[str, Any]
    slots: pd.DataFrame


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def run_task(task: StudyTask) -> TaskResult:
    """Evaluate the task's policy on its variant's site over its period (no relaxation bound)."""
    began = time.perf_counter()
    site = Site.from_config(SiteConfig.model_validate(task.site_data))
    options = EvaluationOptions(seed=task.seed, bound=False, **task.options)
    logger.info("study task %s: start", task.task_id)
    report = evaluate(site, task.start, task.end, [task.policy], options)
    policy_summary = report.summary["policies"][task.policy]
    summary = plain_json(
        {
            "task_id": task.task_id,
            "fingerprint": task.fingerprint,
            "variant": task.variant,
            "policy": task.policy,
            "period": task.period,
            "seed": task.seed,
            "start": task.start.isoformat(),
            "end": task.end.isoformat(),
            "options": task.options,
            "worker": _worker_name(),
            "task_wall_s": time.perf_counter() - began,
            "rule_tuned": report.summary.get("rule_tuned"),
            **{k: v for k, v in policy_summary.items() if k != "policy"},
        }
    )
    logger.info("study task %s: done in %.1f s", task.task_id, summary["task_wall_s"])
    return TaskResult(task.task_id, summary, report.slots[task.policy])
