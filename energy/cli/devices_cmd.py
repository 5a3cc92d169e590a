"""`kv poll`, `kv write`, `kv sunspec scan`, `kv devices probe`: the devices of a site from the
command line.

`kv poll` shows a live table of every point with its quality and age, and stores the readings.
`kv write` is a commissioning write through the same safety path the dispatch loop uses (clamp,
ramp, read back, watchdog feed) and lands in setpoint_writes and the audit log.
`kv sunspec scan` discovers an unknown SunSpec device's models and prints every scaled point.
`kv devices probe` reads each configured device once and judges the answer against its register
map (reachable, model identified, points plausible), for commissioning.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import getpass
import json
import math
import ssl
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from connectors.poller import DevicePoller, PollResult
from connectors.probe import ProbeReport, probe_site
from connectors.registermap import RegisterMapError
from connectors.sunspec_discovery import SunSpecDevice, SunSpecError, scan
from connectors.writer import SetpointWriter, WriteOutcome, WriteRefusedError
from energy.cli.params import ConfigOpt, UrlOpt, fail, load_site_or_exit, open_store
from energy.quality import Quality
from energy.site import Site

__all__ = ["devices_app", "register", "sunspec_app"]

TlsCaOpt = typer.Option(
    None, "--tls-ca", help="CA file that verifies devices with tls: true (Modbus/TCP Security)."
)
TlsCertOpt = typer.Option(None, "--tls-cert", help="Client certificate for TLS devices.")
TlsKeyOpt = typer.Option(None, "--tls-key", help="Private key of --tls-cert.")

_QUALITY_STYLE = {Quality.GOOD: "green", Quality.STALE: "yellow", Quality.INVALID: "red"}

sunspec_app = typer.Typer(help="Commission SunSpec devices.", no_args_is_help=True)
devices_app = typer.Typer(help="Commission the site's devices.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `poll`, `write` and the `sunspec` group to the root `kv` app."""
    app.command("poll")(poll)
    app.command("write")(write)
    app.add_typer(sunspec_app, name="sunspec")
    app.add_typer(devices_app, name="devices")


def _ssl_contexts(
    site: Site, ca: Path | None, cert: Path | None, key: Path | None, device_ids: list[str] | None
) -> dict[str, ssl.SSLContext]:
    """A verifying context for each device with tls: true (never one without verification)."""
    tls = [a.id for a in site.devices() if a.device is not None and a.device.tls]
    if device_ids is not None:
        tls = [d for d in tls if d in device_ids]
    if not tls:
        return {}
    if ca is None:
        raise fail(f"devices {', '.join(tls)} use TLS: pass --tls-ca (and --tls-cert/--tls-key)")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return dict.fromkeys(tls, context)


# -- kv poll ----------------------------------------------------------------------------------


def _format(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value + 0.0:.6g}"  # no "-0"
    return str(value)


def _table(result: PollResult) -> Table:
    now = dt.datetime.now(dt.UTC)
    table = Table(title=f"{result.site_id}: {len(result.devices)} devices, "
                        f"cycle {result.duration_s * 1000:.0f} ms, {result.requests} requests",
                  expand=False)  # fmt: skip
    for column in ("device", "point", "value", "unit", "quality", "age s"):
        table.add_column(
            column,
            justify="right" if column in ("value", "age s") else "left",
            no_wrap=column in ("device", "point"),
            overflow="fold",
        )
    for asset_id, reading in result.devices.items():
        health = reading.health
        if not reading.values:
            table.add_row(asset_id, "-", "-", "", "[yellow]no data[/]", "-")
        for index, (name, value) in enumerate(reading.values.items()):
            style = _QUALITY_STYLE[value.quality]
            age = (now - value.read_time).total_seconds()
            table.add_row(
                asset_id if index == 0 else "",
                name,
                _format(value.value),
                value.unit or "",
                f"[{style}]{value.quality.name.lower()}[/]",
                f"{age:.1f}",
            )
        if not reading.ok:
            table.add_row(
                "",
                "[red]health[/]",
                f"failures {health.consecutive_failures}",
                "",
                f"breaker {health.breaker.value}",
                "",
            )
            table.add_row("", "", f"[red]{health.last_error}[/]", "", "", "")
    return table


def poll(
    once: bool = typer.Option(False, "--once", help="Poll one cycle, print it and exit."),
    device: list[str] = typer.Option(  # noqa: B008 (typer declares options this way)
        None, "--device", "-d", help="Only this device (asset id, e.g. house-01.battery); repeat."
    ),
    interval_s: float = typer.Option(5.0, "--interval", help="Seconds between cycles.", min=0.1),
    no_store: bool = typer.Option(False, "--no-store", help="Show only; do not store readings."),
    config: ConfigOpt = None,
    url: UrlOpt = None,
    tls_ca: Path | None = TlsCaOpt,
    tls_cert: Path | None = TlsCertOpt,
    tls_key: Path | None = TlsKeyOpt,
) -> None:
    """Poll the site's Modbus devices: a live table of readings with quality and age.

    Readings are stored in bulk unless --no-store. With --once the exit code is 1 when a device
    did not answer.
    """
    site = load_site_or_exit(config)
    store = None if no_store else open_store(site, url)
    device_ids = list(device) if device else None
    contexts = _ssl_contexts(site, tls_ca, tls_cert, tls_key, device_ids)
    try:
        poller = DevicePoller(site, store, device_ids=device_ids, ssl_contexts=contexts)
    except (KeyError, RegisterMapError) as exc:
        raise fail(str(exc).strip("\"'")) from exc
    console = Console()
    if once:
        result = asyncio.run(_poll_once(poller))
        console.print(_table(result))
        if result.failed():
            raise typer.Exit(code=1)
        return
    try:
        asyncio.run(_poll_forever(poller, console, interval_s))
    except KeyboardInterrupt:
        console.print("stopped")


async def _poll_once(poller: DevicePoller) -> PollResult:
    async with poller:
        return await poller.poll_once()


async def _poll_forever(poller: DevicePoller, console: Console, interval_s: float) -> None:
    async with poller:
        with Live(Group(), console=console, auto_refresh=False) as live:
            while True:
                started = asyncio.get_running_loop().time()
                result = await poller.poll_once()
                live.update(_table(result), refresh=True)
                elapsed = asyncio.get_running_loop().time() - started
                await asyncio.sleep(max(0.0, interval_s - elapsed))


# -- kv write ---------------------------------------------------------------------------------


def _parse_value(text: str) -> float | bool:
    lowered = text.strip().lower()
    if lowered in ("true", "on", "yes"):
        return True
    if lowered in ("false", "off", "no"):
        return False
    try:
        return float(text)
    except ValueError:
        raise fail(f"VALUE: expected a number or true/false; found {text!r}", 2) from None


def _outcome_table(outcome: WriteOutcome) -> Table:
    table = Table(title=f"{outcome.asset_id}.{outcome.point}: {outcome.status.value}")
    table.add_column("step")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("requested", outcome.requested),
        ("limits", f"{_format(outcome.limits[0])} .. {_format(outcome.limits[1])}"),
        ("clamped/ramped", outcome.clamped),
        ("written", outcome.written),
        ("read back", outcome.read_back),
    ]
    rows += [(f"feed {f.point}", f"{_format(f.written)} ({f.status.value})") for f in outcome.feeds]
    for step, value in rows:
        table.add_row(step, _format(value))
    if outcome.detail:
        table.caption = outcome.detail
    return table


def write(
    device: str = typer.Argument(..., help="Device asset id, e.g. house-01.battery."),
    point: str = typer.Argument(..., help="Writable point of the device's register map."),
    value: str = typer.Argument(..., help="Value in the point's unit (true/false for coils)."),
    actor: str = typer.Option(
        None, "--actor", help="Who writes (default cli:<login name>); recorded in the audit log."
    ),
    config: ConfigOpt = None,
    url: UrlOpt = None,
    tls_ca: Path | None = TlsCaOpt,
    tls_cert: Path | None = TlsCertOpt,
    tls_key: Path | None = TlsKeyOpt,
) -> None:
    """Commissioning write: clamp, ramp, write, read back, feed the watchdog, audit.

    Exit code 0 when the device confirmed the value, 1 when it did not, 2 when refused.
    """
    requested = _parse_value(value)
    site = load_site_or_exit(config)
    store = open_store(site, url)
    who = actor or f"cli:{getpass.getuser()}"
    contexts = _ssl_contexts(site, tls_ca, tls_cert, tls_key, [device])
    try:
        poller = DevicePoller(site, None, device_ids=[device], ssl_contexts=contexts)
    except (KeyError, RegisterMapError) as exc:
        raise fail(str(exc).strip("\"'"), 2) from exc
    writer = SetpointWriter(site, store, who, poller=poller, audit=True)

    async def run() -> WriteOutcome:
        async with poller:
            return await writer.write(device, point, requested)

    try:
        outcome = asyncio.run(run())
    except WriteRefusedError as exc:
        raise fail(f"refused: {exc}", 2) from exc
    Console().print(_outcome_table(outcome))
    if not outcome.confirmed:
        raise typer.Exit(code=1)


# -- kv sunspec scan --------------------------------------------------------------------------


def _sunspec_tables(device: SunSpecDevice) -> list[Table]:
    tables = []
    for model in device.models:
        table = Table(
            title=f"model {model.id} {model.name} at {model.address} (L={model.length})"
            + ("" if model.known else ": unknown model, not decoded")
        )
        for column in ("point", "value", "unit"):
            table.add_column(column, justify="right" if column == "value" else "left")
        for p in model.points:
            table.add_row(p.name, _format(p.value), p.unit or "")
        tables.append(table)
    return tables


@sunspec_app.command("scan")
def sunspec_scan(
    host: str = typer.Argument(..., help="Device address (IP or host name)."),
    port: int = typer.Option(502, "--port", "-p", help="Modbus TCP port."),
    unit: int = typer.Option(1, "--unit", "-u", help="Modbus unit id."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of models."),
    timeout_s: float = typer.Option(2.0, "--timeout", help="Seconds per request."),
) -> None:
    """Discover a device's SunSpec models and print every point's scaled value with its unit."""
    try:
        device = asyncio.run(scan(host, port, unit, timeout_s=timeout_s))
    except SunSpecError as exc:
        raise fail(f"{host}:{port} unit {unit}: {exc}") from exc
    except Exception as exc:  # connection problems of every kind end the same way here
        raise fail(f"{host}:{port} unit {unit}: {type(exc).__name__}: {exc}") from exc
    if as_json:
        typer.echo(json.dumps(device.as_json(), indent=2, default=str))
        return
    console = Console()
    console.print(f"SunSpec device at {host}:{port} unit {unit}, base {device.base_address}")
    for table in _sunspec_tables(device):
        console.print(table)


# -- kv devices probe -------------------------------------------------------------------------


def _probe_table(reports: list[ProbeReport]) -> Table:
    table = Table(title=f"{len(reports)} devices probed")
    for column in ("device", "register map", "reachable", "identified", "points", "findings"):
        table.add_column(column, overflow="fold")
    for report in reports:
        findings = [f"[red]{p}[/]" for p in report.problems]
        findings += [f"[yellow]map lacks {w}[/]" for w in report.warnings]
        table.add_row(
            report.asset_id,
            report.register_map,
            "[green]yes[/]" if report.reachable else "[red]no[/]",
            report.identified,
            f"{report.good_points}/{report.total_points} plausible",
            "\n".join(findings) or "[green]ok[/]",
        )
    return table


@devices_app.command("probe")
def probe(
    device: list[str] = typer.Option(  # noqa: B008 (typer declares options this way)
        None, "--device", "-d", help="Only this device (asset id); repeat."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per device."),
    config: ConfigOpt = None,
    tls_ca: Path | None = TlsCaOpt,
    tls_cert: Path | None = TlsCertOpt,
    tls_key: Path | None = TlsKeyOpt,
) -> None:
    """Read each configured device once and report it against its register map: reachable,
    model identified (SunSpec model chain, or every mapped address answering), points plausible
    (decoded, within limits, presets held). Stores nothing. Exit code 1 when a device is
    unreachable or implausible; map warnings (missing control points) do not fail."""
    site = load_site_or_exit(config)
    device_ids = list(device) if device else None
    contexts = _ssl_contexts(site, tls_ca, tls_cert, tls_key, device_ids)
    try:
        reports = asyncio.run(probe_site(site, device_ids, contexts))
    except (KeyError, RegisterMapError) as exc:
        raise fail(str(exc).strip("\"'")) from exc
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) | {"ok": r.ok} for r in reports], indent=2))
    else:
        Console().print(_probe_table(reports))
    if not all(r.ok for r in reports):
        raise typer.Exit(code=1)
