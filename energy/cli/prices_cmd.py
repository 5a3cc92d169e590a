"""`kv prices`: day-ahead prices in the store (fetch from the configured sources, import a file
of exchange results, show what is published)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from connectors.prices import read_price_csv
from energy.cli.live_feeds import live_prices
from energy.cli.params import ConfigOpt, UrlOpt, load_site_or_exit, open_store, parse_utc_time
from energy.prices import PriceFeedError
from energy.store.prices import read_prices, write_prices

app = typer.Typer(help="Day-ahead prices in the store: fetch, import, show.", no_args_is_help=True)


def _now(value: str | None) -> dt.datetime:
    parsed = parse_utc_time(value) if value else None
    return parsed or dt.datetime.now(dt.UTC)


@app.command("fetch")
def fetch(
    config: ConfigOpt = None,
    url: UrlOpt = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Fetch as if at this time (UTC unless an offset).")
    ] = None,
) -> None:
    """Fetch today's and tomorrow's prices from the configured sources into the store."""
    site = load_site_or_exit(config)
    store = open_store(site, url)
    now = _now(at)
    try:
        outcome = live_prices(site, store).fetch(now)
    except PriceFeedError as exc:
        typer.echo(f"kv prices fetch: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    for problem in outcome.problems:
        typer.echo(f"  failed: {problem}", err=True)
    if outcome.source is None:
        typer.echo("kv prices fetch: no source answered", err=True)
        raise typer.Exit(code=1)
    until = outcome.published_until.isoformat() if outcome.published_until else "-"
    typer.echo(f"{outcome.slots_stored} slots from {outcome.source}; published until {until}")


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV: timestamp (with UTC offset), price_eur_per_mwh.")
    ],
    config: ConfigOpt = None,
    url: UrlOpt = None,
    issued: Annotated[
        str | None,
        typer.Option(
            "--issued", help="When these prices were known (default now); UTC unless an offset."
        ),
    ] = None,
) -> None:
    """Import exchange results from a CSV file (15-minute or hourly) as source file:<name>."""
    site = load_site_or_exit(config)
    store = open_store(site, url)
    try:
        prices = read_price_csv(file)
    except PriceFeedError as exc:
        typer.echo(f"kv prices import: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    rows = write_prices(store, site.config.prices.zone, f"file:{file.name}", _now(issued), prices)
    first, last = prices.index[0], prices.index[-1]
    typer.echo(
        f"{rows} slots of {site.config.prices.zone} from {first.isoformat()} to {last.isoformat()}"
    )


@app.command("show")
def show(
    config: ConfigOpt = None,
    url: UrlOpt = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Days back from tomorrow's end.")] = 2,
) -> None:
    """Print the stored prices known now, per local day: slots, source, min/mean/max EUR/MWh."""
    site = load_site_or_exit(config)
    store = open_store(site, url)
    now = dt.datetime.now(dt.UTC)
    end = now + dt.timedelta(days=2)
    frame = read_prices(store, site.config.prices.zone, end - dt.timedelta(days=days + 2), end, now)
    if frame.empty:
        typer.echo("no prices stored")
        return
    local_day = pd.DatetimeIndex(frame.index).tz_convert(site.tz).date
    for day, part in frame.groupby(local_day):
        values = part["price_eur_per_mwh"]
        typer.echo(
            f"{day}: {len(part)} slots from {', '.join(sorted(set(part['source'])))}; "
            f"{values.min():.2f} / {values.mean():.2f} / {values.max():.2f} EUR/MWh"
        )
