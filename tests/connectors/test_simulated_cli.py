"""`kv simulate` as an operator runs it: devices listed, Modbus served, Ctrl-C stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from connectors.modbus_adapter import ModbusConnection
from connectors.simulated import load_fault_plan
from connectors.simulated.faults import FaultPlanError
from energy.cli.simulate_cmd import simulate
from energy.config import DEFAULT_SITE_CONFIG
from tests.ports import free_port

EXAMPLE_FAULTS = Path(__file__).parents[2] / "connectors" / "simulated" / "faults_example.yaml"


def rebased_config(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The default site config with every device moved to a free port."""
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text(encoding="utf-8"))
    ports: dict[str, int] = {}

    def move(endpoint: dict, asset_id: str) -> None:
        endpoint["port"] = ports[asset_id] = free_port()

    site = data["site"]
    move(site["grid"]["meter"], "grid.meter")
    for house in site["houses"]:
        move(house["meter"], f"{house['id']}.meter")
        for key, suffix in (("pv", "pv"), ("heat_pump", "hp"), ("battery", "battery")):
            move(house[key]["device"], f"{house['id']}.{suffix}")
    for charger in site["ev_chargers"]:
        move(charger["device"], charger["id"])
    # package: paths resolve the same from anywhere; nothing else is relative
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, ports


@pytest.mark.slow
def test_kv_simulate_serves_and_stops_cleanly_on_sigint(tmp_path):
    config, ports = rebased_config(tmp_path)
    kv = Path(sys.executable).parent / "kv"
    process = subprocess.Popen(
        [
            str(kv),
            "simulate",
            "--config",
            str(config),
            "--speed",
            "60",
            "--start",
            "2026-06-01T09:00Z",
            "--status-every",
            "0.5",
            "--faults",
            str(EXAMPLE_FAULTS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:

        async def poll_marker() -> list[int]:
            deadline = time.monotonic() + 60
            while True:
                try:
                    async with ModbusConnection("127.0.0.1", ports["grid.meter"], 1) as conn:
                        return await conn.read("holding", 40000, 2)
                except Exception:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    await asyncio.sleep(0.2)

        assert asyncio.run(poll_marker()) == [0x5375, 0x6E53]
        time.sleep(1.2)  # at least one status line after start
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    for asset_id, port in ports.items():
        assert asset_id in stdout
        assert str(port) in stdout
    assert "sunspec_meter.yaml" in stdout
    assert "delay_s" in stdout  # the fault plan is shown
    assert "mean SoC" in stderr  # status lines are logged
    assert "simulated district stopped" in stderr


def test_example_fault_plan_loads():
    plan = load_fault_plan(EXAMPLE_FAULTS)
    assert plan.seed == 7
    assert plan.devices["house-04.pv"].frozen
    assert plan.devices["house-06.battery"].values == {"soc_pct": 250.0}


def test_fault_plan_errors_name_file_and_key(tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text(
        "devices:\n  house-01.battery: {delay_s: -1, exception_code: 0, colour: red}\n",
        encoding="utf-8",
    )
    with pytest.raises(FaultPlanError) as info:
        load_fault_plan(path)
    keys = {issue.key_path for issue in info.value.issues}
    assert {
        "devices.house-01.battery.delay_s",
        "devices.house-01.battery.exception_code",
        "devices.house-01.battery.colour",
    } <= keys
    assert str(path) in str(info.value)


def test_kv_simulate_reports_a_fault_plan_for_unknown_devices(tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text("devices:\n  house-99.battery: {frozen: true}\n", encoding="utf-8")
    app = typer.Typer()
    app.command()(simulate)
    result = CliRunner().invoke(app, ["--faults", str(path)])
    assert result.exit_code == 1
    assert "house-99.battery" in result.output
    assert "house-01.battery" in result.output  # the known devices are listed
    assert result.exception is None or isinstance(result.exception, SystemExit)
