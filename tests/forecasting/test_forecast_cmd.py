"""`kv forecast`: help texts, the CSV backtest path, and train -> issue -> show on a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy.cli.main import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture
def fast_config(tmp_path: Path) -> Path:
    path = tmp_path / "forecast.yaml"
    path.write_text(
        "model:\n  params: {max_iter: 10}\n"
        "training:\n  min_days: 7\n"
        "backtest:\n  initial_train_days: 21\n  refit_every_days: 7\n"
    )
    return path


@pytest.mark.parametrize("command", ["train", "backtest", "issue", "show"])
def test_every_command_has_help(command):
    result = runner.invoke(app, ["forecast", command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_csv_backtest_prints_metrics_json_without_a_store(fast_config, tmp_path, monkeypatch):
    monkeypatch.setenv("KV_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            "--data",
            str(DATA / "synload_family_2021-01.csv"),
            "--target",
            "household_kw",
            "--from",
            "2021-02-05",
            "--to",
            "2021-02-10",
            "-f",
            str(fast_config),
            "--json",
            "--report",
            str(tmp_path / "r.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    metrics = payload["metrics"]
    assert set(metrics) == {"model", "persistence", "seasonal_naive", "bdew_h25", "bdew_h0"}
    for values in metrics.values():
        assert values["mae"] > 0
        assert values["rmse"] >= values["mae"]
    assert "skill_vs_bdew_h25" in metrics["model"]
    assert "skill_vs_persistence" in metrics["seasonal_naive"]
    assert payload["settings"]["issues"] == 5
    assert (tmp_path / "r.html").read_text().count("plotly") > 0


def test_csv_heat_without_weather_is_refused(fast_config):
    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            "--data",
            str(DATA / "synload_family_2021-01.csv"),
            "--target",
            "household_kw",
            "--kind",
            "heat",
            "-f",
            str(fast_config),
            "--json",
        ],
    )
    assert result.exit_code == 1
    assert "needs weather" in result.output


@pytest.mark.slow
def test_train_issue_show_on_a_store(sqlite_store, fast_config, tmp_path, monkeypatch):
    monkeypatch.setenv("KV_DATA_DIR", str(tmp_path / "data"))
    url = sqlite_store.url
    common = ["--url", url]
    trained = runner.invoke(
        app,
        [
            "forecast",
            "train",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-15",
            "-t",
            "district:load_kw",
            "-t",
            "district:pv_kw",
            "-f",
            str(fast_config),
            *common,
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert len(list((tmp_path / "data" / "models").glob("*.joblib"))) == 2
    issued = runner.invoke(app, ["forecast", "issue", "--at", "2025-01-15T06:00Z", *common])
    assert issued.exit_code != 0
    assert "no trained model" in issued.output
    trained_all = runner.invoke(
        app,
        [
            "forecast",
            "train",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-15",
            "-f",
            str(fast_config),
            *common,
        ],
    )
    assert trained_all.exit_code == 0, trained_all.output
    issued = runner.invoke(app, ["forecast", "issue", "--at", "2025-01-15T06:00Z", *common])
    assert issued.exit_code == 0, issued.output
    shown = runner.invoke(
        app,
        ["forecast", "show", "-t", "district:load_kw", "--at", "2025-01-15T07:00Z", *common],
    )
    assert shown.exit_code == 0, shown.output
    assert "district:load_kw" in shown.output
    assert "issued 2025-01-15T06:00:00+00:00" in shown.output


def test_training_on_an_empty_store_explains_itself(
    sqlite_store, fast_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("KV_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(
        app,
        [
            "forecast",
            "train",
            "--source",
            "store",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "-t",
            "district:load_kw",
            "-f",
            str(fast_config),
            "--url",
            sqlite_store.url,
        ],
    )
    assert result.exit_code == 1
    assert "usable training slots" in result.output
