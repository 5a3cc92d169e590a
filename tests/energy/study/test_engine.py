"""The LocalCluster the study engine starts: its workers' environment and configuration."""

from __future__ import annotations

import os

import dask
from distributed import Client

from energy.study.engine import start_local_cluster


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
