"""`kv run`: the simulated Klimaviertel, the control loop and the web interface in one process."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from connectors.config_check import referenced_file_issues
from energy.cli.live_feeds import live_prices, live_weather
from energy.cli.params import ConfigOpt, UrlOpt, open_store, parse_utc_time
from energy.config import SiteConfigError
from energy.control.platform import PlatformOptions, run_platform
from energy.prices import PriceFeedError
from energy.site import Site, load_site
from energy.store import Store

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    config: ConfigOpt = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            min=1.0,
            help="Simulated seconds per wall second (e.g. 288: a day in 5 minutes). "
            "The platform's clock follows the simulation.",
        ),
    ] = 1.0,
    simulator: Annotated[
        bool,
        typer.Option(
            "--simulator/--no-simulator",
            help=(
                "Serve the simulated district on reference-year weather (default), or control "
                "the configured real devices on the configured weather service (site.weather)."
            ),
        ),
    ] = True,
    start: Annotated[
        str | None,
        typer.Option("--start", help="Simulated start, ISO date/time, UTC unless an offset given."),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Web interface address (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Web interface port.")
    ] = 8080,
    web: Annotated[bool, typer.Option("--web/--no-web", help="Serve the web interface.")] = True,
    url: UrlOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated profiles.")] = 0,
) -> None:
    """Run the platform: simulated Klimaviertel (Modbus TCP), control loop, web interface.

    Prints where to look (web address, store, device endpoints, the first operator account on a
    fresh store) and runs until Ctrl-C or SIGTERM; then every device is released to local mode
    and the site lease is given up. Store: SQLite under the data directory unless --url or
    KV_DATABASE_URL names another.
    """
    try:
        site = load_site(config)
        referenced = referenced_file_issues(site)
        if referenced:
            raise SiteConfigError(referenced)
    except SiteConfigError as exc:
        typer.echo(f"kv run: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if not simulator and (speed != 1.0 or start is not None):
        typer.echo(
            "kv run: --speed and --start need the simulated district (drop --no-simulator)",
            err=True,
        )
        raise typer.Exit(code=2)
    store = open_store(site, url, require_current=False)
    for noisy in ("apscheduler", "connectors.writer"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger(noisy).level, logging.WARNING))
    # skipped runs of a busy job are expected when accelerated; device errors are reported by
    # connectors.device_client with the device named, pymodbus's own dumps add nothing
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    options = PlatformOptions(
        simulator=simulator,
        speed=speed,
        start=parse_utc_time(start),
        host=host,
        port=port,
        web=web,
        seed=seed,
        echo=typer.echo,
    )
    try:
        asyncio.run(_main(site, store, options))
    except (OSError, PriceFeedError) as exc:
        typer.echo(f"kv run: cannot start: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        store.dispose()


async def _main(site: Site, store: Store, options: PlatformOptions) -> None:
    weather = None if options.simulator else live_weather(site, store)
    prices = None if options.simulator else live_prices(site, store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_platform(site, store, options, stop, weather, prices)
