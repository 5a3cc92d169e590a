"""A study on a separately started `dask scheduler` with two `dask worker` processes (loopback).

One worker is killed while it runs a task: the scheduler gives the task to the other worker and
the study completes. A second run of the finished study recomputes nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy.study import StudyOutcome, expand_tasks, run_study
from energy.study.results import read_summaries
from energy.study.spec import parse_study_spec

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
DASK = Path(sys.executable).parent / "dask"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """`dask scheduler` and two single-threaded `dask worker` processes without nannies."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    commands = [
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        *(
            [
                str(DASK),
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--name",
                f"w{i}",
            ]
            for i in range(2)
        ),
    ]
    processes = []
    for i, command in enumerate(commands):
        with (logs / f"{i}.log").open("w") as log:
            processes.append(
                subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            )
        if i == 0:
            time.sleep(1.0)
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_killed_worker_task_is_retried_elsewhere_and_rerun_skips_all(
    cluster: str, tmp_path: Path
) -> None:
    from distributed import Client

    spec, sites = parse_study_spec(
        {
            "study": {
                "name": "kill",
                "variants": [{"name": "a"}, {"name": "b", "overlay": {"houses.*.battery": None}}],
                "policies": ["rule-tuned", "rule"],
                "periods": [{"name": "h", "from": "2026-03-02", "to": "2026-03-02T01:00Z"}],
                "options": {"training_days": 14},
            }
        },
        "study.yaml",
        REPO,
    )
    out = tmp_path / "study"
    outcome: list[StudyOutcome] = []
    runner = threading.Thread(
        target=lambda: outcome.append(run_study(spec, sites, out, cluster, retries=0))
    )
    runner.start()
    killed: tuple[str, set[str]] | None = None
    with Client(cluster, timeout=60) as watcher:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline:
            busy = {w: keys for w, keys in watcher.processing().items() if keys}
            if busy:
                worker, keys = next(iter(busy.items()))
                pid = watcher.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                killed = (worker, {str(k) for k in keys})
            else:
                time.sleep(0.05)
    runner.join(timeout=240)
    assert killed is not None, "no task was seen running"
    assert not runner.is_alive()
    first = outcome[0]
    tasks = expand_tasks(spec, sites)
    assert first.failed == {}
    assert sorted(first.computed) == sorted(t.task_id for t in tasks)
    summaries = {s["task_id"]: s for s in read_summaries(out)}
    assert set(summaries) == {t.task_id for t in tasks}
    worker, keys = killed
    retried = [s for s in summaries.values() if any(s["task_id"] in k for k in keys)]
    assert retried
    assert all(s["worker"] != worker for s in retried)

    second = run_study(spec, sites, out, cluster)
    assert second.computed == []
    assert sorted(second.skipped) == sorted(t.task_id for t in tasks)
