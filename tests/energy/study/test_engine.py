"""The LocalCluster the study engine starts: its workers' settings and the order of tasks."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import dask
from distributed import Client

from energy.study import StudyProgress, expand_tasks, run_study
from energy.study.engine import start_local_cluster
from energy.study.spec import parse_study_spec

REPO = Path(__file__).resolve().parents[3]


def _worker_settings() -> tuple[str | None, bool]:
    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        bool(dask.config.get("distributed.worker.profile.enabled")),
    )


def test_local_workers_run_without_malloc_trim_and_profiler() -> None:
    cluster = start_local_cluster(n_workers=1)
    try:
        with Client(cluster) as client:
            settings = list(client.run(_worker_settings).values())
    finally:
        cluster.close()
    assert settings == [(None, False)]


def test_one_worker_runs_the_longest_task_first(tmp_path: Path) -> None:
    spec, sites = parse_study_spec(
        {
            "study": {
                "name": "order",
                "variants": [{"name": "as-built"}],
                "policies": ["rule"],
                "periods": [
                    {"name": "one-hour", "from": "2026-03-02", "to": "2026-03-02T01:00Z"},
                    {"name": "two-hours", "from": "2026-03-03", "to": "2026-03-03T02:00Z"},
                ],
            }
        },
        "study.yaml",
        REPO,
    )
    reports: list[StudyProgress] = []
    outcome = run_study(spec, sites, tmp_path, n_workers=1, progress=reports.append)
    assert outcome.failed == {}
    by_length = sorted(expand_tasks(spec, sites), key=lambda t: t.end - t.start, reverse=True)
    finished = [r.finished_task_id for r in reports if r.finished_task_id is not None]
    assert finished == [t.task_id for t in by_length]
    # counted as they went: one running at a time on one worker, the time left known once a
    # task is computed and zero at the end; the dashboard's link only where bokeh draws it
    assert [r.done for r in reports if r.finished_task_id is not None] == [1, 2]
    assert all(r.total == 2 and r.failed == 0 and r.running <= 1 for r in reports)
    assert reports[0].left_s is None
    assert reports[-1].left_s == 0.0
    bokeh = importlib.util.find_spec("bokeh") is not None
    assert all((r.dashboard_link is not None) == bokeh for r in reports)
