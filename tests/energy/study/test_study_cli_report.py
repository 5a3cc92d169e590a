"""`kv study run` on its default LocalCluster, `kv study report`, and the report in chromium.

The report must open in headless chromium (Playwright, Debian's /usr/bin/chromium, never a
downloaded browser) without a console error, draw its chart, and show exactly the numbers of
the tasks' summaries.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from energy.cli.main import app

REPO = Path(__file__).resolve().parents[3]
KV = Path(sys.executable).parent / "kv"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
runner = CliRunner()


def _spec(tmp_path: Path, policies: list[str]) -> Path:
    path = tmp_path / "study.yaml"
    study = {
        "name": "cli",
        "base": str(REPO / "config" / "klimaviertel.yaml"),
        "variants": [{"name": "as-built"}],
        "policies": policies,
        "periods": [{"name": "h", "from": "2026-03-02T00:00Z", "to": "2026-03-02T01:00Z"}],
        "options": {"training_days": 14},
    }
    path.write_text(yaml.safe_dump({"study": study}), encoding="utf-8")
    return path


def test_bad_spec_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["study", "run", str(_spec(tmp_path, ["rule", "mcp"])), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "study.policies" in result.output
    assert "'mcp'" in result.output
    assert not (tmp_path / "o").exists()


def test_report_of_a_missing_study_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["study", "report", str(tmp_path)])
    assert result.exit_code == 2
    assert "kv study run" in result.output


@pytest.mark.slow
@pytest.mark.browser
def test_local_cluster_study_report_opens_in_chromium_with_the_summaries_numbers(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    spec = _spec(tmp_path, ["rule-tuned", "rule"])
    run = subprocess.run(
        [str(KV), "study", "run", str(spec), "--out", str(out), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 computed, 0 already finished, 0 failed" in run.stdout
    assert "0 running, 0 failed, about 0 s left" in run.stderr  # the bar's last state
    report = subprocess.run(
        [str(KV), "study", "report", str(out)], capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr[-3000:]
    summaries = {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in (out / "tasks").glob("*/summary.json")
    }
    assert len(summaries) == 2

    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required under CI: run scripts/ensure-system-deps.sh")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto((out / "report.html").as_uri())
            page.wait_for_selector("#pareto-0 .main-svg", timeout=20_000)
            cells = page.eval_on_selector_all(
                "#study-table tbody tr td[data-column]",
                "tds => tds.map(td => [td.parentElement.dataset.task, td.dataset.column,"
                " td.dataset.value])",
            )
            code_version = page.inner_text("#code-version")
        finally:
            browser.close()
    assert errors == []
    assert code_version.startswith("klimaviertel")
    shown = {(task, column): float(value) for task, column, value in cells}
    for task_id, summary in summaries.items():
        figures = summary["figures"]
        assert shown[(task_id, "cost_eur")] == figures["cost_eur"]
        assert (
            shown[(task_id, "cost_with_stored_energy_eur")]
            == (summary["cost_with_stored_energy_eur"])
        )
        assert shown[(task_id, "self_sufficiency_frac")] == figures["self_sufficiency_frac"]
        assert shown[(task_id, "co2_kg")] == figures["co2_kg"]
        assert shown[(task_id, "comfort_violation_kh")] == figures["comfort_violation_kh"]
        assert shown[(task_id, "battery_full_cycles")] == figures["battery_full_cycles"]
    reference = summaries["as-built__rule-tuned__h__seed0"]["cost_with_stored_energy_eur"]
    rule = summaries["as-built__rule__h__seed0"]["cost_with_stored_energy_eur"]
    assert math.isclose(
        shown[("as-built__rule__h__seed0", "saving_vs_rule_tuned_eur")], reference - rule
    )
