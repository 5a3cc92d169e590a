"""`kv config`: validate a site configuration and show what it describes."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from connectors.config_check import control_point_warnings, referenced_file_issues
from energy.cli.params import ConfigOpt
from energy.config import DEFAULT_SITE_CONFIG, SiteConfig, SiteConfigError
from energy.site import AssetKind, Site, load_site

app = typer.Typer(help="Check and show site configuration files.", no_args_is_help=True)

ConfigArg = typer.Argument(
    None, help="Site configuration YAML (default: the shipped Klimaviertel site)."
)


def site_summary_json(site: Site) -> dict[str, object]:
    """The validated site as plain data: every asset with id, kind and parameters."""
    return {
        "id": site.id,
        "name": site.config.name,
        "illustrative": site.config.illustrative,
        "location": site.config.location.model_dump(mode="json"),
        "grid": site.config.grid.model_dump(mode="json"),
        "tariff": site.config.tariff.model_dump(mode="json"),
        "objective": site.config.objective.model_dump(mode="json"),
        "assets": [
            {
                "id": a.id,
                "kind": a.kind.value,
                "house_id": a.house_id,
                "parameters": a.params_dict(),
                "device": a.device.model_dump(mode="json") if a.device else None,
            }
            for a in site.assets
        ],
    }


def _summary_table(site: Site) -> Table:
    cfg = site.config
    table = Table(
        title=f"{cfg.name} ({site.id})" + (" - illustrative sizes" if cfg.illustrative else "")
    )
    for column in (
        "house",
        "PV kWp",
        "heat pump",
        "el. kW",
        "tank L",
        "battery kWh/kW",
        "el. kWh/a",
        "heat kWh/a",
    ):
        table.add_column(column, justify="left" if column in ("house", "heat pump") else "right")
    for h in cfg.houses:
        hp = h.heat_pump
        table.add_row(
            f"{h.id} ({h.supply_concept})" if h.supply_concept else h.id,
            f"{h.pv.peak_kw:.1f}" if h.pv else "-",
            f"{hp.source}, {hp.control.value}" if hp else "-",
            f"{hp.electric_min_kw:.1f}-{hp.electric_max_kw:.1f}" if hp else "-",
            f"{h.tank.volume_l:.0f}" if h.tank else "-",
            f"{h.battery.chemistry} {h.battery.capacity_kwh:.1f}/{h.battery.charge_max_kw:.1f}"
            if h.battery
            else "-",
            f"{h.annual_electricity_kwh:.0f}",
            f"{h.annual_space_heat_kwh + h.annual_hot_water_kwh:.0f}",
        )
    for b in cfg.community_batteries:
        table.add_row(
            b.id,
            "-",
            f"community {b.chemistry}",
            "-",
            "-",
            f"{b.capacity_kwh:.1f}/{b.charge_max_kw:.1f}",
            "-",
            "-",
        )
    for c in cfg.ev_chargers:
        table.add_row(c.id, "-", "EV charger", f"0-{c.charge_max_kw:.1f}", "-", "-", "-", "-")
    pv_total = sum(h.pv.peak_kw for h in cfg.houses if h.pv)
    storage_total = sum(a.params.capacity_kwh for a in site.of_kind(AssetKind.BATTERY))  # type: ignore[union-attr]
    table.caption = (
        f"{len(cfg.houses)} houses, {pv_total:.1f} kWp PV, {storage_total:.1f} kWh storage; grid "
        f"import {cfg.grid.import_limit_kw:.0f} kW / export {cfg.grid.export_limit_kw:.0f} kW; "
        f"tariff {cfg.tariff.kind}; objective {cfg.objective.kind}; "
        f"{sum(1 for _ in site.devices())} Modbus devices; time zone {cfg.location.timezone}; "
        f"{_grid_signals(cfg)}"
    )
    return table


def _grid_signals(cfg: SiteConfig) -> str:
    """One phrase on the grid operator's signals the site takes."""
    signals = cfg.grid_signals
    if signals is None:
        return "grid signals off"
    box = signals.control_box
    source = (
        f"control box at {box.device.host}:{box.device.port} ({len(box.contacts)} contacts) and API"
        if box is not None
        else "API only"
    )
    return f"grid signals: {source}, failsafe {signals.failsafe_h:g} h"


@app.command("check")
def check(
    file: Path | None = ConfigArg,
    as_json: bool = typer.Option(False, "--json", help="Print the validated site as JSON."),
    config: ConfigOpt = None,
) -> None:
    """Validate a site configuration and the files it refers to (every device's register map);
    print a summary (or every error) and exit non-zero on errors. The file is FILE or -c.

    Warnings (exit code 0) name devices whose register map lacks points the platform needs to
    control that kind of device (a setpoint, a release, a reversion timer)."""
    if file is not None and config is not None and file != config:
        raise typer.BadParameter(f"two files given: {file} and --config {config}")
    path = file or config or DEFAULT_SITE_CONFIG
    try:
        site = load_site(path)
        referenced = referenced_file_issues(site)
        if referenced:
            raise SiteConfigError(referenced)
    except SiteConfigError as exc:
        if as_json:
            typer.echo(
                json.dumps(
                    {"valid": False, "errors": [i.model_dump() for i in exc.issues]}, indent=2
                )
            )
        else:
            err = Console(stderr=True)
            err.print(f"[bold red]{len(exc.issues)} problem(s)[/] in {path}:")
            for issue in exc.issues:
                err.print(f"  - {issue}", markup=False, highlight=False)
        raise typer.Exit(code=1) from exc
    warnings = control_point_warnings(site)
    if as_json:
        summary = site_summary_json(site)
        summary["warnings"] = [w.model_dump() for w in warnings]
        typer.echo(json.dumps(summary, indent=2))
        return
    Console().print(_summary_table(site))
    if warnings:
        err = Console(stderr=True)
        err.print(
            f"[bold yellow]{len(warnings)} warning(s)[/]: devices the platform cannot fully control"
        )
        for warning in warnings:
            err.print(f"  - {warning}", markup=False, highlight=False)
