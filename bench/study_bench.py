"""Wall time of a 12-task study: one after another in one process against a Dask LocalCluster.

4 variants (as built, no batteries, air-source heat pumps, 20 kWh home batteries) x 3 policies
(rule, rule-tuned, mpc) over a short period, measured in one run: first every task in this
process in turn (`run_task`), then the same tasks through `run_study` on a LocalCluster (cluster
start-up included), into a fresh directory. Prints both wall times and their ratio.

    .venv/bin/python bench/study_bench.py --hours 6 --workers 2
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from energy.study import expand_tasks, run_study
from energy.study.run_task import run_task
from energy.study.spec import parse_study_spec

REPO = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2026-03-02T00:00Z")


def _spec(hours: int, training_days: int) -> dict[str, object]:
    end = (START + pd.Timedelta(hours=hours)).isoformat()
    return {
        "study": {
            "name": "bench",
            "variants": [
                {"name": "as-built"},
                {"name": "no-battery", "overlay": {"houses.*.battery": None}},
                {"name": "air-source", "overlay": {"houses.*.heat_pump.source": "air"}},
                {
                    "name": "home-batteries-20kWh",
                    "overlay": {"houses.*.battery.capacity_kwh": 20.0},
                },
            ],
            "policies": ["rule", "rule-tuned", "mpc"],
            "periods": [{"name": "bench", "from": START.isoformat(), "to": end}],
            "options": {"training_days": training_days},
        }
    }


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=6, help="period length from 2 March 2026")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--training-days", type=int, default=14, help="mpc's training history")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    spec, sites = parse_study_spec(_spec(args.hours, args.training_days), "bench", REPO)
    tasks = expand_tasks(spec, sites)
    print(f"{len(tasks)} tasks, {args.hours} h each, {args.workers} workers")
    print(f"load average before: {_load()} on {os.cpu_count()} cores (other processes count)")

    began = time.perf_counter()
    for task in tasks:
        one = time.perf_counter()
        run_task(task)
        print(f"  serial {task.task_id}: {time.perf_counter() - one:.1f} s", flush=True)
    serial_s = time.perf_counter() - began
    print(f"serial, one process: {serial_s:.1f} s (load average {_load()})", flush=True)

    with tempfile.TemporaryDirectory() as out:
        began = time.perf_counter()
        outcome = run_study(spec, sites, Path(out), n_workers=args.workers)
        dask_s = time.perf_counter() - began
    if outcome.failed or len(outcome.computed) != len(tasks):
        raise SystemExit(f"study did not finish every task: {outcome}")
    print(
        f"dask LocalCluster, {args.workers} workers: {dask_s:.1f} s (start-up included; "
        f"load average {_load()})"
    )
    print(f"ratio dask / serial: {dask_s / serial_s:.2f}")


if __name__ == "__main__":
    main()
