"""The import-linter contracts of pyproject.toml catch a wrong-way import.

`make test` runs `lint-imports` on the real packages; this test shows the contracts bite: a copy
of the packages with one forbidden import added (the optimizer reading the store) breaks the
contract that names it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("energy", "forecasting", "optimizer", "connectors")


@pytest.mark.slow
def test_a_wrong_way_import_breaks_a_contract(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "optimizer" / "wrong_way.py").write_text(
        "from energy.store.engine import Store\n\n__all__ = ['Store']\n"
    )
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0, result.stdout
    assert "The optimizer and the forecasters import only the domain kernel BROKEN" in " ".join(
        result.stdout.split()
    )
    assert "optimizer.wrong_way -> energy.store.engine" in result.stdout
