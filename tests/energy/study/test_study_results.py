"""Task results on disk: atomic folders, skipping by fingerprint; the report's table and front."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from energy.study import expand_tasks
from energy.study.engine import write_study_record
from energy.study.report import pareto_front, study_table, write_study_report
from energy.study.results import is_finished, read_summaries, slots_path, write_result
from energy.study.run_task import TaskResult
from energy.study.spec import parse_study_spec
from energy.study.tasks import StudyTask

REPO = Path(__file__).resolve().parents[3]


def _tasks() -> tuple[Any, list[StudyTask]]:
    spec, sites = parse_study_spec(
        {
            "study": {
                "name": "t",
                "variants": [{"name": "a"}, {"name": "b", "overlay": {"houses.*.battery": None}}],
                "policies": ["rule-tuned", "mpc"],
                "periods": [{"name": "d", "from": "2026-03-02", "to": "2026-03-02T01:00Z"}],
                "options": {"training_days": 14},
            }
        },
        "study.yaml",
        REPO,
    )
    return spec, expand_tasks(spec, sites)


def _result(task: StudyTask, cost: float, autarky: float) -> TaskResult:
    index = pd.date_range(task.start, task.end, freq="15min", inclusive="left", name="time")
    slots = pd.DataFrame({"grid_import_kwh": [1.0] * len(index)}, index=index)
    figures = {
        "cost_eur": cost - 1.0,
        "self_sufficiency_frac": autarky,
        "self_consumption_frac": 0.5,
        "co2_kg": 2.0,
        "comfort_violation_kh": 0.0,
        "battery_full_cycles": None,
    }
    summary = {
        "task_id": task.task_id,
        "fingerprint": task.fingerprint,
        "variant": task.variant,
        "policy": task.policy,
        "period": task.period,
        "seed": task.seed,
        "figures": figures,
        "cost_with_stored_energy_eur": cost,
    }
    return TaskResult(task.task_id, summary, slots)


def test_written_result_is_finished_only_for_the_same_inputs(tmp_path: Path) -> None:
    _, tasks = _tasks()
    task = tasks[0]
    assert not is_finished(tmp_path, task)
    folder = write_result(tmp_path, _result(task, 10.0, 0.5))
    assert is_finished(tmp_path, task)
    assert [p.name for p in (tmp_path / "tasks").iterdir()] == [task.task_id]
    frame = pd.read_parquet(slots_path(folder))
    assert len(frame) == 4
    assert str(frame.index.tz) == "UTC"
    changed = dataclasses.replace(task, options={**task.options, "step_s": 30.0})
    assert changed.task_id == task.task_id
    assert not is_finished(tmp_path, changed)


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    _, tasks = _tasks()
    result = _result(tasks[0], 10.0, 0.5)
    broken = TaskResult(result.task_id, {"not json": object()}, result.slots)
    with pytest.raises(TypeError):
        write_result(tmp_path, broken)
    assert list((tmp_path / "tasks").iterdir()) == []
    assert not is_finished(tmp_path, tasks[0])


def test_table_savings_against_the_variants_own_rule_tuned_and_front(tmp_path: Path) -> None:
    spec, tasks = _tasks()
    by_id = {t.task_id: t for t in tasks}
    costs = {  # (cost with stored energy, autarky)
        "a__rule-tuned__d__seed0": (10.0, 0.50),
        "a__mpc__d__seed0": (9.0, 0.40),
        "b__rule-tuned__d__seed0": (12.0, 0.30),
        "b__mpc__d__seed0": (11.0, 0.60),
    }
    for task_id, (cost, autarky) in costs.items():
        write_result(tmp_path, _result(by_id[task_id], cost, autarky))
    table = study_table(read_summaries(tmp_path)).set_index("task_id")
    assert table.loc["a__mpc__d__seed0", "saving_vs_rule_tuned_eur"] == pytest.approx(1.0)
    assert table.loc["b__mpc__d__seed0", "saving_vs_rule_tuned_eur"] == pytest.approx(1.0)
    assert table.loc["b__mpc__d__seed0", "saving_vs_rule_tuned_frac"] == pytest.approx(1 / 12)
    assert table.loc["a__rule-tuned__d__seed0", "saving_vs_rule_tuned_eur"] == 0.0
    front = pareto_front(table.reset_index()).to_numpy()
    on_front = set(table.index[front])
    assert on_front == {"a__mpc__d__seed0", "a__rule-tuned__d__seed0", "b__mpc__d__seed0"}

    stale = dataclasses.replace(by_id["a__mpc__d__seed0"], variant="gone")
    write_result(tmp_path, _result(stale, 1.0, 1.0))
    write_study_record(tmp_path, spec, tasks)
    html_path, csv_path = write_study_report(tmp_path)
    csv = pd.read_csv(csv_path).set_index("task_id")
    assert sorted(csv.index) == sorted(costs)
    assert csv.loc["a__mpc__d__seed0", "cost_with_stored_energy_eur"] == 9.0
    assert csv["battery_full_cycles"].isna().all()
    text = html_path.read_text(encoding="utf-8")
    assert "<script src=" not in text
    assert "Plotly.newPlot" in text
    assert json.loads((tmp_path / "study.json").read_text())["spec"]["name"] == "t"
