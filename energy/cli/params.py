"""Options, parsers and helpers shared by every `kv` command, and how their errors end.

Every command takes the site as `-c/--config` (`ConfigOpt`) and, where it opens the store, the
store as `--url` (`UrlOpt`); `load_site_or_exit` and `open_store` turn the platform's errors into
a message on standard error and an exit code. `PlatformErrorGroup`, the root app's group, does
the same for any platform error a command leaves uncaught: exit code 2 for bad input (the
platform's ValueError subclasses: configuration, input files, register maps), 1 for a failure
(store, devices, feeds, solver, files), never a traceback. Errors of other libraries keep theirs:
they are bugs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from typer.core import TyperGroup

from energy.config import SiteConfigError
from energy.site import Site, load_site
from energy.store import Store, StoreError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "ConfigOpt",
    "PlatformErrorGroup",
    "UrlOpt",
    "exit_code_for",
    "fail",
    "load_site_or_exit",
    "open_store",
    "parse_utc_time",
]

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
_PLATFORM_PACKAGES = ("energy.", "forecasting.", "optimizer.", "connectors.")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Site configuration YAML (default: the shipped Klimaviertel site)."
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (overrides KV_DATABASE_URL and the config)."),
]


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print `message` to standard error; the caller raises the returned Exit."""
    typer.echo(message, err=True)
    return typer.Exit(code=code)


def load_site_or_exit(config: Path | None) -> Site:
    """The site of `config` (None: the default site); an invalid file exits with code 2."""
    try:
        return load_site(config)
    except SiteConfigError as exc:
        raise fail(str(exc), EXIT_BAD_INPUT) from exc


def open_store(site: Site, url: str | None, *, require_current: bool = True) -> Store:
    """The store of `url`, else of the site's configuration; checked to be migrated unless
    `require_current` is False (`kv db upgrade` migrates it). A store error exits with code 1."""
    store = Store.from_url(url) if url else Store.for_site(site.config)
    if require_current:
        try:
            store.require_current()
        except StoreError as exc:
            store.dispose()
            raise fail(str(exc)) from exc
    return store


def parse_utc_time(value: str | None) -> dt.datetime | None:
    """An ISO date or time as aware UTC; a value without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected an ISO date or time (2026-06-01T04:00Z); {exc}"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()


def exit_code_for(exc: BaseException) -> int | None:
    """2 for the platform's bad-input errors, 1 for its other errors and for OS errors (files,
    sockets), None for anything else (a bug: it keeps its traceback)."""
    defined_here = type(exc).__module__.startswith(_PLATFORM_PACKAGES)
    if defined_here and isinstance(exc, ValueError):
        return EXIT_BAD_INPUT
    if defined_here or isinstance(exc, OSError):
        return EXIT_FAILURE
    return None


class PlatformErrorGroup(TyperGroup):
    """The root group of `kv`: a platform error becomes a message and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context; typer types it with its vendored click
        try:
            return super().invoke(ctx)
        except Exception as exc:
            code = exit_code_for(exc)
            if code is None:
                raise
            command = f"{ctx.command_path} {ctx.invoked_subcommand or ''}".rstrip()
            raise fail(f"{command}: {exc}", code) from exc
