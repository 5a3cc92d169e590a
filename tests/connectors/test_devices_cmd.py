"""`kv poll`, `kv write` and `kv sunspec scan` end to end through the Typer app, against modbus-tk
servers and a one-house site configuration written for the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_peer_server_support import TkServer, free_port, reference_registers, sunspec_test_image
from typer.testing import CliRunner

from energy.cli.main import app
from energy.config import DEFAULT_SITE_CONFIG
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.measurements import latest_measurements
from energy.store.setpoints import read_setpoint_writes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:modbus_tk")

runner = CliRunner()


@pytest.fixture(scope="module")
def battery() -> Iterator[TkServer]:
    """A modbus-tk server holding the register image of a battery_generic.yaml battery."""
    with TkServer(size=1200) as server:
        yield server


@pytest.fixture
def image(battery: TkServer) -> TkServer:
    battery.set("holding", 1000, [500, *reference_registers("int32", -750)])
    battery.set("holding", 1003, reference_registers("uint32", 10_000))
    battery.set("holding", 1005, reference_registers("uint32", 4000))
    battery.set("holding", 1007, reference_registers("uint32", 4000))
    battery.set("holding", 1009, [100, 950, 0, *reference_registers("int32", -4000)])
    battery.set("holding", 1100, [0, 0, 0, 60, 0])
    return battery


def _config(tmp_path: Path, port: int) -> Path:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    site = data["site"]
    house = site["houses"][0]
    for part in ("meter", "pv", "heat_pump", "tank"):
        house.pop(part, None)
    house["battery"]["device"]["port"] = port
    site["houses"] = [house]
    site["grid"].pop("meter", None)
    site["ev_chargers"] = []
    site["tariff"] = {"kind": "fixed", "fixed_price_eur_per_kwh": 0.3}
    path = tmp_path / "one-house.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def migrated(tmp_path: Path, image: TkServer) -> tuple[Path, str]:
    config = _config(tmp_path, image.port)
    url = f"sqlite:///{tmp_path / 'kv.sqlite'}"
    result = runner.invoke(app, ["db", "upgrade", "-c", str(config), "--url", url])
    assert result.exit_code == 0, result.output
    return config, url


def test_poll_once_shows_values_with_quality_and_stores_them(migrated: tuple[Path, str]) -> None:
    config, url = migrated
    result = runner.invoke(app, ["poll", "--once", "-c", str(config), "--url", url])
    assert result.exit_code == 0, result.output
    assert "house-01.battery" in result.output
    assert "soc" in result.output
    assert "good" in result.output
    store = Store.from_url(url)
    latest = latest_measurements(store, "klimaviertel-sodingen").set_index("quantity")
    assert latest.loc["soc", "value"] == 50
    assert latest.loc["power_kw", "value"] == pytest.approx(-0.75)


def test_poll_once_without_store_and_unknown_device(migrated: tuple[Path, str]) -> None:
    config, _ = migrated
    ok = runner.invoke(app, ["poll", "--once", "--no-store", "-c", str(config)])
    assert ok.exit_code == 0, ok.output
    unknown = runner.invoke(app, ["poll", "--once", "--no-store", "-c", str(config), "-d", "x.y"])
    assert unknown.exit_code == 1
    assert "no Modbus device x.y" in unknown.output


def test_poll_once_exits_1_when_a_device_does_not_answer(tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    result = runner.invoke(app, ["poll", "--once", "--no-store", "-c", str(config)])
    assert result.exit_code == 1
    assert "cannot connect" in result.output


def test_write_clamps_confirms_and_audits(migrated: tuple[Path, str], image: TkServer) -> None:
    config, url = migrated
    result = runner.invoke(
        app,
        ["write", "house-01.battery", "power_setpoint_w", "9000", "-c", str(config), "--url", url,
         "--actor", "cli:commissioning"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "clamped" in result.output
    assert image.get("holding", 1101, 2) == reference_registers("int32", 4000)
    store = Store.from_url(url)
    entries = read_audit(store, action="setpoint.write")
    (entry,) = [e for e in entries if e["target"] == "house-01.battery.power_setpoint_w"]
    assert entry["actor"] == "cli:commissioning"
    assert entry["detail"]["written"] == 4000
    rows = read_setpoint_writes(store, "klimaviertel-sodingen")
    assert {r.point for r in rows} == {"power_setpoint_w", "watchdog_timeout_s", "heartbeat"}


def test_write_refusals_exit_2_and_send_nothing(
    migrated: tuple[Path, str], image: TkServer
) -> None:
    config, url = migrated
    before = image.get("holding", 1000, 1)
    read_only = runner.invoke(
        app, ["write", "house-01.battery", "soc", "10", "-c", str(config), "--url", url]
    )
    assert read_only.exit_code == 2
    assert "read-only" in read_only.output
    assert image.get("holding", 1000, 1) == before
    garbage = runner.invoke(
        app, ["write", "house-01.battery", "power_setpoint_w", "lots", "-c", str(config)]
    )
    assert garbage.exit_code == 2
    assert "expected a number" in garbage.output


def test_sunspec_scan_json(tmp_path: Path) -> None:
    with TkServer(size=65535) as server:
        server.set("holding", 40000, list(sunspec_test_image(40000).values()))
        result = runner.invoke(app, ["sunspec", "scan", "127.0.0.1", "--port", str(server.port),
                                     "--json"])  # fmt: skip
        table = runner.invoke(app, ["sunspec", "scan", "127.0.0.1", "-p", str(server.port)])
    assert result.exit_code == 0, result.output
    models = json.loads(result.output)
    assert [m["id"] for m in models] == [1, 103, 160, 64999]
    assert {"name": "W", "value": 5120, "unit": "W"} in models[1]["points"]
    assert table.exit_code == 0, table.output
    assert "inverter_three_phase" in table.output


def test_sunspec_scan_of_a_non_sunspec_device_fails_clearly(image: TkServer) -> None:
    result = runner.invoke(app, ["sunspec", "scan", "127.0.0.1", "--port", str(image.port)])
    assert result.exit_code == 1
    assert "no 'SunS' marker" in result.output
