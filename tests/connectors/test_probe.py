"""Commissioning: `kv config check` warns about register maps that cannot carry a device kind's
control, and `kv devices probe` reads the simulated district once and judges every device against
its map (reachable, identified, plausible; a fault, a wrong preset and a dead device each show)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_simulated_support import Simulated
from typer.testing import CliRunner

from connectors.config_check import control_point_warnings, missing_control_points
from connectors.modbus_adapter import ModbusConnection
from connectors.probe import ProbeReport, probe_site
from connectors.registermap import load_register_map
from connectors.simulated import DeviceFaults
from energy.cli.main import app
from energy.site import Site

runner = CliRunner()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def by_id(reports: list[ProbeReport]) -> dict[str, ProbeReport]:
    return {r.asset_id: r for r in reports}


@pytest.mark.parametrize(
    ("asset_id", "map_name", "missing"),
    [
        ("house-01.battery", "battery_generic.yaml", []),
        ("house-01.battery", "sunspec_battery.yaml", []),
        ("house-01.battery", "sma_storage.yaml", ["watchdog_point or heartbeat_point"]),
        ("house-02.hp", "stiebel_isg_heatpump.yaml", []),  # SG Ready through its inputs
        ("house-01.hp", "stiebel_isg_heatpump.yaml", ["'setpoint_kw'"]),  # continuous control
        ("house-01.hp", "heatpump_generic.yaml", []),
        ("carport-ev", "ev_charger_generic.yaml", []),
        ("carport-ev", "battery_generic.yaml", ["'need_kwh'"]),
        (
            "house-01.battery",
            "sunspec_meter.yaml",
            ["'soc_frac'", "'setpoint_kw'", "release", "watchdog_point"],
        ),
    ],
)
def test_missing_control_points_follow_the_device_kind(
    site: Site, asset_id: str, map_name: str, missing: list[str]
) -> None:
    gaps = missing_control_points(site.asset(asset_id), load_register_map(map_name))
    assert len(gaps) == len(missing), gaps
    for gap, expected in zip(gaps, missing, strict=True):
        assert expected in gap


def test_config_check_warns_but_passes_for_a_map_without_reversion(site: Site) -> None:
    warnings = control_point_warnings(site)
    assert [w.key_path for w in warnings] == [
        "device house-07.battery: register_map 'sma_storage.yaml'"
    ]
    result = runner.invoke(app, ["config", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1 warning(s)" in result.output
    as_json = runner.invoke(app, ["config", "check", "--json"])
    assert as_json.exit_code == 0
    [warning] = json.loads(as_json.stdout)["warnings"]
    assert "watchdog_point" in warning["expected"]


def test_probe_finds_every_simulated_device_reachable_identified_and_plausible(
    healthy: Simulated,
) -> None:
    site = healthy.district.site
    reports = by_id(run(probe_site(site)))
    assert set(reports) == {a.id for a in site.devices()}
    assert all(r.reachable and r.ok for r in reports.values()), [
        (r.asset_id, r.problems) for r in reports.values() if not r.ok
    ]
    sunspec = reports["house-04.battery"]
    assert sunspec.identified.startswith("SunSpec models 1, 701, 702, 704, 802")
    assert "house-04.battery" in sunspec.identified  # the serial number
    assert sunspec.good_points == sunspec.total_points == 23
    assert reports["house-07.battery"].warnings  # the SMA map has no reversion point
    assert "every mapped address answered" in reports["house-01.battery"].identified


def test_probe_reports_implausible_values_and_a_wrong_preset(healthy: Simulated) -> None:
    site = healthy.district.site
    healthy.call(
        lambda: healthy.district.set_faults("house-01.battery", DeviceFaults(values={"soc": 250}))
    )
    host, port, unit = healthy.endpoint("house-04.battery")
    point = healthy.district.register_map("house-04.battery").point("WSetMod")

    async def set_percent_mode() -> None:
        async with ModbusConnection(host, port, unit) as conn:
            await conn.write_registers(point.address, [0])

    run(set_percent_mode())
    try:
        reports = by_id(run(probe_site(site, ["house-01.battery", "house-04.battery"])))
    finally:
        run(_restore(host, port, unit, point.address))
    soc = reports["house-01.battery"]
    assert not soc.ok
    assert any(p.startswith("soc:") for p in soc.problems), soc.problems
    preset = reports["house-04.battery"]
    assert not preset.ok
    assert preset.problems == (
        "WSetMod reads 0; the platform needs 1 (set it at commissioning: "
        "kv write house-04.battery WSetMod 1)",
    )


async def _restore(host: str, port: int, unit: int, address: int) -> None:
    async with ModbusConnection(host, port, unit) as conn:
        await conn.write_registers(address, [1])


def _served_config(tmp_path: Path, site: Site, dead: str | None = None) -> Path:
    data = site.config.model_dump(mode="json", exclude_none=True)
    if dead is not None:
        for house in data["houses"]:
            battery = house.get("battery") or {}
            if f"{house['id']}.battery" == dead:
                battery["device"]["port"] = 1  # nothing listens there
    path = tmp_path / "served.yaml"
    path.write_text(yaml.safe_dump({"site": data}))
    return path


def test_kv_devices_probe_reports_a_dead_device_and_fails(
    healthy: Simulated, tmp_path: Path
) -> None:
    config = _served_config(tmp_path, healthy.district.site, dead="house-03.battery")
    args = ["devices", "probe", "--config", str(config), "--json"]
    result = runner.invoke(app, [*args, "-d", "house-03.battery", "-d", "house-04.battery"])
    assert result.exit_code == 1, result.output
    reports = {r["asset_id"]: r for r in json.loads(result.stdout)}
    assert reports["house-03.battery"]["reachable"] is False
    assert reports["house-03.battery"]["problems"]
    assert reports["house-04.battery"]["ok"] is True
    table = runner.invoke(
        app, ["devices", "probe", "--config", str(config), "-d", "house-04.battery"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert table.exit_code == 0, table.output
    assert "23/23 plausible" in table.stdout
