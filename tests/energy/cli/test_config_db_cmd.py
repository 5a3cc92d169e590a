from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from energy.cli.main import app

runner = CliRunner()
BAD = Path(__file__).parent.parent / "data" / "bad_site.yaml"


def test_config_check_prints_summary() -> None:
    result = runner.invoke(app, ["config", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Klimaviertel Herne-Sodingen" in result.output
    assert "7 houses" in result.output
    assert "57.7 kWp PV" in result.output


def test_config_check_json_lists_every_asset() -> None:
    result = runner.invoke(app, ["config", "check", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    kinds = {a["id"]: a["kind"] for a in data["assets"]}
    assert kinds["house-01.battery"] == "battery"
    assert kinds["house-07.hp"] == "heat_pump"
    assert kinds["carport-ev"] == "ev_charger"
    flow = next(a for a in data["assets"] if a["id"] == "house-03.battery")
    assert flow["parameters"]["chemistry"] == "redox-flow"
    charger = next(a for a in data["assets"] if a["id"] == "carport-ev")
    assert charger["parameters"]["charge_max_kw"] == 11.0
    assert charger["parameters"]["sessions"][0]["depart_local"] == "07:30:00"


def test_config_check_errors_exit_non_zero() -> None:
    result = runner.invoke(app, ["config", "check", str(BAD)])
    assert result.exit_code == 1
    assert "site.location.latitude_deg" in result.output
    json_result = runner.invoke(app, ["config", "check", str(BAD), "--json"])
    assert json_result.exit_code == 1
    assert json.loads(json_result.output)["valid"] is False


def test_db_upgrade_then_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    before = runner.invoke(app, ["db", "status", "--url", url])
    assert before.exit_code == 1
    assert "kv db upgrade" in before.output
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0
    after = runner.invoke(app, ["db", "status", "--url", url])
    assert after.exit_code == 0
    assert "assets" in after.output


def _command_paths(command: Any, prefix: list[str]) -> list[list[str]]:
    paths = [prefix]
    if hasattr(command, "commands"):  # a group (Typer vendors its own click)
        for name, sub in command.commands.items():
            paths += _command_paths(sub, [*prefix, name])
    return paths


def test_every_command_has_help() -> None:
    """Walks the whole `kv` command tree, including commands added later by other modules."""
    root = typer.main.get_command(app)
    paths = _command_paths(root, [])
    assert len(paths) >= 6
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
        command = root
        for name in path:
            command = command.commands[name]
        assert command.help or command.short_help, f"kv {' '.join(path)} has no help text"
