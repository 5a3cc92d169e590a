"""A study's output directory: one folder per finished task, written atomically.

    DIR/study.json                 the spec, the tasks and the code version of the last run
    DIR/tasks/<task_id>/summary.json   the task's figures (written last: its presence = finished)
    DIR/tasks/<task_id>/slots.parquet  per-slot series (slots.csv where pyarrow is missing)

A task's folder is written under a temporary name and renamed into place, so a killed run leaves
either a finished task or nothing. A finished task is skipped on a re-run only if its fingerprint
(a hash of every input) matches: changing the spec recomputes exactly the tasks it changes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from energy.study.run_task import TaskResult
from energy.study.tasks import StudyTask

__all__ = ["is_finished", "read_summaries", "slots_path", "task_dir", "write_result"]

logger = logging.getLogger(__name__)


def _has_parquet() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def task_dir(out_dir: Path, task_id: str) -> Path:
    return out_dir / "tasks" / task_id


def slots_path(folder: Path) -> Path:
    """The per-slot file of a task folder, Parquet or CSV, whichever was written."""
    parquet = folder / "slots.parquet"
    return parquet if parquet.exists() else folder / "slots.csv"


def is_finished(out_dir: Path, task: StudyTask) -> bool:
    """Whether out_dir holds this task's result, made from the same inputs."""
    summary = task_dir(out_dir, task.task_id) / "summary.json"
    try:
        stored = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stored.get("fingerprint") != task.fingerprint:
        logger.info("study task %s: inputs changed since its result; recomputing", task.task_id)
        return False
    return True


def write_result(out_dir: Path, result: TaskResult) -> Path:
    """Write a task's files into a temporary folder and move it into place."""
    final = task_dir(out_dir, result.task_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{result.task_id}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        if _has_parquet():
            result.slots.to_parquet(staging / "slots.parquet")
        else:
            result.slots.to_csv(staging / "slots.csv", date_format="%Y-%m-%dT%H:%M:%S%z")
        (staging / "summary.json").write_text(
            json.dumps(result.summary, indent=2) + "\n", encoding="utf-8"
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def read_summaries(out_dir: Path) -> list[dict[str, Any]]:
    """Every finished task's summary in out_dir, by task id."""
    found = []
    for summary in sorted((out_dir / "tasks").glob("*/summary.json")):
        found.append(json.loads(summary.read_text(encoding="utf-8")))
    return found
