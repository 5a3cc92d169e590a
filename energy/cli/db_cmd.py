"""`kv db`: prepare and inspect the store."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console

from energy.cli.params import ConfigOpt, UrlOpt, load_site_or_exit, open_store
from energy.store import StoreError
from energy.store.consent import audit_consent_changes
from energy.store.roles import ensure_app_role
from energy.store.sites import sync_site

app = typer.Typer(help="Create, migrate and inspect the SQL store.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    config: ConfigOpt = None,
    url: UrlOpt = None,
    app_role: str | None = typer.Option(
        None,
        "--app-role",
        help="PostgreSQL: create/grant this application role for `kv run` (INSERT and SELECT "
        "only on the audit and setpoint write logs). Run as the owner that migrates.",
    ),
    app_password: str | None = typer.Option(
        None,
        "--app-password",
        envvar="KV_APP_DB_PASSWORD",
        help="password of the application role (else: set none)",
    ),
) -> None:
    """Apply all migrations and register the site's assets (idempotent)."""
    site = load_site_or_exit(config)
    store = open_store(site, url, require_current=False)
    store.upgrade()
    sync_site(store, site)
    changed = audit_consent_changes(store, site, dt.datetime.now(dt.UTC))
    console = Console()
    console.print(f"store {store.url} at migration {store.current_revision()}")
    if changed:
        console.print(f"publication consent changed (audited): {', '.join(changed)}")
    if app_role is not None:
        try:
            ensure_app_role(store, app_role, app_password)
        except StoreError as exc:
            typer.echo(f"--app-role: {exc}", err=True)
            raise typer.Exit(code=1) from exc
        console.print(
            f"application role {app_role}: SELECT, INSERT on audit_log and setpoint_writes; "
            "SELECT, INSERT, UPDATE, DELETE on the working tables"
        )


@app.command("status")
def status(config: ConfigOpt = None, url: UrlOpt = None) -> None:
    """Show where the store is, its migration state and row counts; exit 1 if not up to date."""
    store = open_store(load_site_or_exit(config), url, require_current=False)
    current, head = store.current_revision(), store.head_revision()
    console = Console()
    console.print(f"store:     {store.url} ({store.dialect})")
    console.print(f"migration: {current or 'none'} (newest: {head})")
    if current != head:
        console.print("[yellow]not up to date: run `kv db upgrade`[/]")
        raise typer.Exit(code=1)
    with store.engine.connect() as conn:
        for name in store.table_names():
            if name == "alembic_version":
                continue
            count = conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one()
            console.print(f"  {name:<16} {count:>12,d} rows")
