"""The LocalCluster the study engine starts: its workers' settings and the order of tasks."""

from __future__ import annotations

import os
from pathlib import Path

import dask
from distributed import Client

from energy.study import expand_tasks, run_study
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
    finished: list[str] = []
    outcome = run_study(
        spec, sites, tmp_path, n_workers=1, progress=lambda task_id, *_: finished.append(task_id)
    )
    assert outcome.failed == {}
    by_length = sorted(expand_tasks(spec, sites), key=lambda t: t.end - t.start, reverse=True)
    assert finished == [t.task_id for t in by_length]
