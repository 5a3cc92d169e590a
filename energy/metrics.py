"""Process metrics of the control loop for Prometheus: how long each job run takes, by outcome.

The control loop (energy.control.jobs) observes every run here, including the runs of frequent
jobs that the store records only on a change of outcome; the web server's /metrics endpoint
(energy.web.metrics) serves this registry together with the figures it reads from the store.
A process that runs no control loop (`kv serve` alone) shows the histogram without samples.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector

__all__ = ["JOB_DURATION_BUCKETS_S", "PROCESS_REGISTRY", "observe_job_run"]

PROCESS_REGISTRY = CollectorRegistry()
ProcessCollector(registry=PROCESS_REGISTRY)

#: from a 5-second poll of a few devices to a cold year-ahead plan or a retraining
JOB_DURATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_JOB_DURATION_S = Histogram(
    "kv_job_duration_seconds",
    "Wall-clock duration of control-loop job runs (poll, plan, dispatch, ...) by outcome "
    "(ok, skipped, failed), since this process started.",
    ["job", "outcome"],
    buckets=JOB_DURATION_BUCKETS_S,
    registry=PROCESS_REGISTRY,
)


def observe_job_run(job: str, outcome: str, wall_duration_s: float) -> None:
    """Count one finished run of `job` with its outcome and wall-clock duration."""
    _JOB_DURATION_S.labels(job=job, outcome=outcome).observe(wall_duration_s)
