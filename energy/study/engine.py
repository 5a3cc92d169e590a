"""Run a study's tasks on Dask distributed: a LocalCluster by default, or an existing cluster.

Tasks are independent. The client submits every unfinished task, the longest expected first
(`StudyTask.expected_cpu`, so that no worker ends the study alone on a long task), writes each
result as it arrives (`energy.study.results`), and carries on past a failed task (reported at
the end).
A task that raises is retried `retries` times; a task whose worker dies is rescheduled by the
Dask scheduler on another worker (up to `distributed.scheduler.allowed-failures` times).
Results travel back to the client, so remote workers need the package and no shared disk.

The LocalCluster's workers run without two of Dask's defaults that cost a closed-loop task time
and give it nothing: `MALLOC_TRIM_THRESHOLD_=65536` in the workers' environment (glibc then hands
memory back to the system on nearly every free, and the planner's arrays are allocated anew each
slot) and the statistical profiler sampling the task's stack every 10 ms (only the dashboard,
off here, shows it). Workers of an existing cluster keep their own settings (docs/studies.md).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy.study.results import is_finished, write_result
from energy.study.run_task import TaskResult, run_task
from energy.study.spec import StudySpec
from energy.study.tasks import StudyTask, expand_tasks
from energy.study.version import code_version

if TYPE_CHECKING:
    from distributed import LocalCluster

__all__ = [
    "LOCAL_WORKER_CONFIG",
    "StudyOutcome",
    "run_study",
    "start_local_cluster",
    "write_study_record",
]

logger = logging.getLogger(__name__)

LOCAL_WORKER_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
    },
    "distributed.worker.profile.enabled": False,
}


@dataclass
class StudyOutcome:
    """What a run did: tasks computed now, skipped as finished, and failed (id -> error)."""

    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def write_study_record(out_dir: Path, spec: StudySpec, tasks: list[StudyTask]) -> Path:
    """study.json: the spec, its tasks (id: fingerprint) and the code version (read by the
    report, which shows only these tasks' results)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "spec": spec.model_dump(mode="json", by_alias=True),
        "tasks": {t.task_id: t.fingerprint for t in tasks},
        "code_version": code_version(),
    }
    path = out_dir / "study.json"
    staging = out_dir / ".study.json.tmp"
    staging.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(staging, path)
    return path


def start_local_cluster(n_workers: int | None = None) -> LocalCluster:
    """n_workers single-threaded worker processes on 127.0.0.1 (default: one per CPU core),
    configured by LOCAL_WORKER_CONFIG."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_WORKER_CONFIG):
        return LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )


def run_study(
    spec: StudySpec,
    sites: dict[str, dict[str, Any]],
    out_dir: Path,
    scheduler_address: str | None = None,
    n_workers: int | None = None,
    retries: int = 2,
    progress: Callable[[str, int, int], None] | None = None,
) -> StudyOutcome:
    """Compute every task of the spec not yet finished in out_dir.

    scheduler_address: `tcp://host:8786` of a running `dask scheduler`; None starts a
    LocalCluster of n_workers single-threaded worker processes on 127.0.0.1 (default: one per
    CPU core). progress(task_id, done, total) after every task written.
    """
    from distributed import Client, as_completed

    tasks = expand_tasks(spec, sites)
    write_study_record(out_dir, spec, tasks)
    outcome = StudyOutcome()
    pending = []
    for task in tasks:
        if is_finished(out_dir, task):
            outcome.skipped.append(task.task_id)
        else:
            pending.append(task)
    total = len(tasks)
    logger.info(
        "study %s: %d tasks, %d finished, %d to run",
        spec.name,
        total,
        len(outcome.skipped),
        len(pending),
    )
    if not pending:
        return outcome

    cluster = start_local_cluster(n_workers) if scheduler_address is None else None
    client = Client(cluster if cluster is not None else scheduler_address)
    longest_first = sorted(pending, key=lambda t: t.expected_cpu, reverse=True)
    try:
        futures = {
            client.submit(
                run_task,
                task,
                key=f"study-{task.task_id}-{task.fingerprint}",
                retries=retries,
                pure=False,
                priority=len(longest_first) - rank,
            ): task
            for rank, task in enumerate(longest_first)
        }
        done = len(outcome.skipped)
        for future in as_completed(futures):
            task = futures[future]
            try:
                result: TaskResult = future.result()
            except Exception as exc:
                outcome.failed[task.task_id] = f"{type(exc).__name__}: {exc}"
                logger.error("study task %s failed: %s", task.task_id, outcome.failed[task.task_id])
            else:
                write_result(out_dir, result)
                outcome.computed.append(task.task_id)
            done += 1
            if progress is not None:
                progress(task.task_id, done, total)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return outcome
