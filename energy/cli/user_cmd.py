"""`kv user`: accounts and API tokens of the operator interface.

Passwords are never taken on the command line (shell history, process list): from the environment
variable KV_USER_PASSWORD, else from standard input when it is not a terminal, else by prompt.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from energy.cli.params import ConfigOpt, UrlOpt, load_site_or_exit, open_store
from energy.store import Store
from energy.store.users import (
    Role,
    UserError,
    create_token,
    create_user,
    end_sessions_of,
    list_tokens,
    list_users,
    revoke_token,
    update_user,
)

__all__ = ["app"]

app = typer.Typer(
    help="Manage users (roles: viewer, operator, analyst, admin, grid_operator) and API tokens."
)

PASSWORD_ENV = "KV_USER_PASSWORD"


def _store(config: Path | None, url: str | None) -> Store:
    return open_store(load_site_or_exit(config), url)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _fail(exc: Exception) -> typer.Exit:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    typer.echo(f"kv user: {message}", err=True)
    return typer.Exit(code=1)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    role: Annotated[
        Role, typer.Option("--role", help="viewer, operator, analyst, admin or grid_operator.")
    ],
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Create a user; the password comes from KV_USER_PASSWORD, stdin or a prompt."""
    store = _store(config, url)
    try:
        user = create_user(store, name, _read_password(), role, _actor(), _now())
    except UserError as exc:
        raise _fail(exc) from exc
    typer.echo(f"user {user.name} created with role {user.role.value}")


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[Role | None, typer.Option("--role", help="New role.")] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Lock or unlock the account.")
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Set a new password (env, stdin or prompt).")
    ] = False,
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Change a user's role, lock state or password."""
    store = _store(config, url)
    try:
        user = update_user(
            store,
            name,
            _actor(),
            _now(),
            role=role,
            disabled=disabled,
            password=_read_password() if password else None,
        )
    except (KeyError, UserError) as exc:
        raise _fail(exc) from exc
    state = "disabled" if user.disabled else "enabled"
    typer.echo(f"user {user.name}: role {user.role.value}, {state}")


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="User the token acts as.")],
    token_name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    store = _store(config, url)
    try:
        secret, record = create_token(store, name, token_name, _actor(), _now())
    except KeyError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"token {record.id} ({record.name}) for {name}; store it now, it is not shown again:"
    )
    typer.echo(secret)


@app.command("revoke-token")
def revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (see `kv user list`).")],
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Revoke an API token."""
    store = _store(config, url)
    try:
        revoke_token(store, token_id, _actor(), _now())
    except (KeyError, UserError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"token {token_id} revoked")


@app.command("logout")
def logout(
    name: Annotated[str, typer.Argument(help="User whose browser sessions end now.")],
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """End every browser session of a user (their session cookies stop working at once)."""
    store = _store(config, url)
    try:
        ended = end_sessions_of(store, name, _actor(), _now())
    except KeyError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{name}: {ended} session(s) ended")


@app.command("list")
def list_(config: ConfigOpt = None, url: UrlOpt = None) -> None:
    """List users and their API tokens (times in UTC)."""
    store = _store(config, url)
    tokens = list_tokens(store)
    table = Table("user", "role", "state", "created (UTC)", "tokens")
    for user in list_users(store):
        own = [
            f"{t.id}:{t.name}{' (revoked)' if t.revoked_at else ''}"
            for t in tokens
            if t.user_id == user.id
        ]
        table.add_row(
            user.name,
            user.role.value,
            "disabled" if user.disabled else "enabled",
            user.created_at.strftime("%Y-%m-%d %H:%M"),
            ", ".join(own) or "-",
        )
    Console().print(table)
