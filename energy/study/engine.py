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
slot) and the statistical profiler sampling the task's stack every 10 ms (only the dashboard
shows it, which needs bokeh, not a dependency of ours). Workers of an existing cluster keep their
own settings (docs/studies.md).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
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
    from distributed import Client, Future, LocalCluster

__all__ = [
    "LOCAL_WORKER_CONFIG",
    "StudyOutcome",
    "StudyProgress",
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


PROGRESS_EVERY_S = 5.0  # between finished tasks, how often the running count is refreshed


@dataclass(frozen=True)
class StudyProgress:
    """Where a running study stands: reported when the tasks are submitted, after every finished
    task and every PROGRESS_EVERY_S seconds between.

    done counts skipped, computed and failed tasks; running those a worker is processing now.
    left_s estimates the wall seconds left from the time so far and the expected CPU of the tasks
    finished and not (None until a task has been computed in this run). dashboard_link: the
    scheduler's dashboard, where it runs one.
    """

    done: int
    failed: int
    running: int
    total: int
    left_s: float | None
    finished_task_id: str | None = None
    dashboard_link: str | None = None


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
    progress: Callable[[StudyProgress], None] | None = None,
) -> StudyOutcome:
    """Compute every task of the spec not yet finished in out_dir.

    scheduler_address: `tcp://host:8786` of a running `dask scheduler`; None starts a
    LocalCluster of n_workers single-threaded worker processes on 127.0.0.1 (default: one per
    CPU core). progress: see StudyProgress.
    """
    from distributed import Client, wait

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
        tracker = _ProgressTracker(client, futures, total, len(outcome.skipped), progress)
        tracker.report(None)
        unfinished = set(futures)
        while unfinished:
            try:
                finished, unfinished = wait(
                    unfinished, timeout=PROGRESS_EVERY_S, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                tracker.report(None)
                continue
            for future in finished:
                task = futures[future]
                try:
                    result: TaskResult = future.result()
                except Exception as exc:
                    outcome.failed[task.task_id] = f"{type(exc).__name__}: {exc}"
                    logger.error(
                        "study task %s failed: %s", task.task_id, outcome.failed[task.task_id]
                    )
                else:
                    write_result(out_dir, result)
                    outcome.computed.append(task.task_id)
                tracker.finished(task, failed=task.task_id in outcome.failed)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return outcome


class _ProgressTracker:
    """Counts for StudyProgress, and the time left weighted by the tasks' expected CPU."""

    def __init__(
        self,
        client: Client,
        futures: dict[Future, StudyTask],
        total: int,
        skipped: int,
        progress: Callable[[StudyProgress], None] | None,
    ):
        self.client = client
        self.keys = {future.key for future in futures}
        self.total = total
        self.done = skipped
        self.failed = 0
        self.expected_left = sum(task.expected_cpu for task in futures.values())
        self.expected_computed = 0.0
        self.began = time.monotonic()
        self.progress = progress
        self.dashboard_link: str | None = None
        if progress is not None and _dashboard_runs(client):
            self.dashboard_link = client.dashboard_link

    def finished(self, task: StudyTask, *, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        self.expected_left -= task.expected_cpu
        if not failed:
            self.expected_computed += task.expected_cpu
        self.report(task.task_id)

    def report(self, finished_task_id: str | None) -> None:
        if self.progress is None:
            return
        # a worker holds up to about one task more than its threads run (Dask's worker
        # saturation), so what runs is what it holds, up to its threads
        threads = self.client.nthreads()
        running = sum(
            min(sum(1 for key in keys if key in self.keys), threads.get(worker, 0))
            for worker, keys in self.client.processing().items()
        )
        left_s = None
        if self.expected_computed > 0:
            elapsed_s = time.monotonic() - self.began
            left_s = elapsed_s * max(self.expected_left, 0.0) / self.expected_computed
        self.progress(
            StudyProgress(
                done=self.done,
                failed=self.failed,
                running=running,
                total=self.total,
                left_s=left_s,
                finished_task_id=finished_task_id,
                dashboard_link=self.dashboard_link,
            )
        )


def _bokeh_installed() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def _dashboard_runs(client: Client) -> bool:
    """The scheduler serves its dashboard: the HTTP service is there (it always is) and bokeh,
    which draws the pages, is installed where the scheduler runs (not a dependency of ours)."""
    if "dashboard" not in client.scheduler_info().get("services", {}):
        return False
    return bool(client.run_on_scheduler(_bokeh_installed))
