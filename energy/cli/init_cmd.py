"""`kv init DIR`: a new deployment's own, editable copy of the default site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from energy.cli.params import EXIT_BAD_INPUT, ConfigOpt, fail
from energy.defaults import DefaultSiteError, write_default_site

__all__ = ["init"]


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the site file (created).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing site file in DIR.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Write the default site (klimaviertel.yaml), or the site of -c, into DIR, to edit for a
    new district.

    Register maps are named by file name and resolve to the maps shipped with the platform. Check
    the edited file with `kv config check DIR/klimaviertel.yaml` and run the platform on it with
    `kv run --config DIR/klimaviertel.yaml`.
    """
    try:
        target = write_default_site(directory, source=config, overwrite=force)
    except DefaultSiteError as exc:
        raise fail(f"kv init: {exc}", EXIT_BAD_INPUT) from exc
    typer.echo(f"wrote {target}")
    typer.echo(f"next: kv config check {target} && kv run --config {target}")
