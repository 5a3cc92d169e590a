"""`kv simulate`: serve the simulated district's devices over Modbus TCP until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from connectors.registermap import RegisterMapError
from connectors.simulated import FaultPlan, SimulatedDistrict, load_fault_plan
from connectors.simulated.faults import FaultPlanError
from energy.cli.params import ConfigOpt, parse_utc_time
from energy.config import SiteConfigError
from energy.site import load_site

logger = logging.getLogger(__name__)


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return "0.0.0.0"  # unknown: treat as not loopback


def simulate(
    config: ConfigOpt = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed", min=0.001, help="Simulated seconds per wall-clock second (1 = real time)."
        ),
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Simulated start, ISO date/time; UTC unless an offset is given (default: now).",
        ),
    ] = None,
    faults: Annotated[
        Path | None,
        typer.Option(
            "--faults", help="Fault plan YAML (delays, exceptions, drops, frozen values)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the physics profiles' noise.")] = 0,
    status_every: Annotated[
        float, typer.Option("--status-every", min=0.5, help="Wall seconds between status lines.")
    ] = 10.0,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Serve on this address instead of the configured hosts."),
    ] = None,
) -> None:
    """Run the simulated district: one Modbus TCP server per device of the site config.

    Prints every device's asset id, host, port, unit id and register map, then logs a status
    line periodically. Stops cleanly on Ctrl-C or SIGTERM.
    """
    err = Console(stderr=True)
    if host is not None and not ipaddress.ip_address(_resolve(host)).is_loopback:
        logger.warning(
            "serving on %s: Modbus has no authentication, anyone who reaches this address can "
            "write setpoints to the simulated devices",
            host,
        )
    try:
        site = load_site(config)
        plan = load_fault_plan(faults) if faults is not None else FaultPlan()
        district = SimulatedDistrict(
            site, speed=speed, start=parse_utc_time(start), seed=seed, faults=plan, host=host
        )
    except (SiteConfigError, RegisterMapError, FaultPlanError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(code=1) from exc
    except ValueError as exc:
        err.print(f"cannot simulate: {exc}", markup=False, highlight=False)
        raise typer.Exit(code=1) from exc
    try:
        asyncio.run(_serve(district, status_every))
    except OSError as exc:
        err.print(f"cannot serve the district: {exc}", markup=False, highlight=False)
        raise typer.Exit(code=1) from exc


async def _serve(district: SimulatedDistrict, status_every: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with district:
        _print_devices(district)
        while not stop.is_set():
            logger.info("%s", district.status())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=status_every)
        logger.info("stopping: closing %d device servers", len(district.devices))
    logger.info("simulated district stopped")


def _print_devices(district: SimulatedDistrict) -> None:
    table = Table(
        title=f"Simulated {district.site.config.name}: speed {district.speed:g}x, "
        f"start {district.start_time.isoformat()}"
    )
    for column in ("asset", "kind", "host", "port", "unit", "register map", "faults"):
        table.add_column(column)
    for d in district.devices:
        faults = district.device(d.asset_id).faults
        table.add_row(
            d.asset_id,
            d.kind,
            d.host,
            str(d.port),
            str(d.unit_id),
            d.register_map,
            "" if faults.healthy else faults.model_dump_json(exclude_defaults=True),
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))
    console.print(table)
