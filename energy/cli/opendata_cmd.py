"""`kv opendata export`: district KPIs per day and month as CSV and JSON with DCAT-AP.de
metadata, for the city's open-data portal (energy.datahub.opendata)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from energy.cli.params import ConfigOpt, UrlOpt, load_site_or_exit, open_store

__all__ = ["app"]

app = typer.Typer(
    help="Open data for the city's portal (district figures only).", no_args_is_help=True
)


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected a local date YYYY-MM-DD; found {value!r}", param_hint=option
        ) from exc


@app.command("export")
def export(
    first: Annotated[str, typer.Option("--from", help="First local day (YYYY-MM-DD), included.")],
    last: Annotated[str, typer.Option("--to", help="Last local day (YYYY-MM-DD), included.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the files.")] = Path("opendata"),
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Write district KPIs per local day and month (CSV, JSON) and their DCAT-AP.de metadata.

    Only district aggregates: no house appears, whatever its consent. Slots without stored
    district rows are computed from the device readings first; periods with gaps show their
    coverage_frac.
    """
    from energy.datahub.opendata import export_open_data

    first_day, last_day = _date(first, "--from"), _date(last, "--to")
    if last_day < first_day:
        raise typer.BadParameter(
            f"--to ({last_day}) is before --from ({first_day})", param_hint="--to"
        )
    site = load_site_or_exit(config)
    store = open_store(site, url)
    try:
        result = export_open_data(store, site, first_day, last_day, out)
    finally:
        store.dispose()
    typer.echo(
        f"{result.days} days, {result.months} months ({result.slots_backfilled} slots computed "
        f"from readings); files:"
    )
    for path in result.files:
        typer.echo(f"  {path}")
