"""The example inputs of docs/examples/ run through `kv optimize` as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from energy.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
DAYS = sorted(EXAMPLES.glob("INPUTS-*.csv"))


def test_there_are_a_winter_a_summer_and_a_dst_day() -> None:
    names = [p.name for p in DAYS]
    assert any("winter" in n for n in names)
    assert any("summer" in n for n in names)
    assert any("dst" in n for n in names)


@pytest.mark.slow
@pytest.mark.parametrize("inputs", DAYS, ids=lambda p: p.stem)
def test_kv_optimize_plans_each_example_day(inputs: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "optimize",
            "--inputs",
            str(inputs),
            "--state",
            str(EXAMPLES / "STATE.json"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["violations"] == []
    rows = len(pd.read_csv(inputs))
    assert summary["n_slots"] == rows
    plan = pd.read_csv(tmp_path / "plan.csv")
    assert len(plan) == rows
    # one plan row per input slot, with import and export never negative
    assert (plan["grid:import_kw"] >= -1e-6).all()
    assert (plan["grid:export_kw"] >= -1e-6).all()
