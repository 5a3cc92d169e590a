"""`kv user`: accounts and API tokens of the operator interface.

Passwords are never taken on the command line (shell history, process list): from the environment
variable KV_USER_PASSWORD, else from standard input when it is not a terminal, else by prompt.
"""

from __future__ import annotations

import dataclasses
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
from energy.store.preferences import (
    PREFERENCE_LANGUAGES,
    UserPreferences,
    get_preferences,
    set_preferences,
)
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


#: `--language` value for "no own choice": the browser's language, else the site's default
BROWSER_LANGUAGE = "browser"
#: `--quiet` value for "no quiet hours"
NO_QUIET_HOURS = "off"


def parse_language(text: str) -> str | None:
    """A `--language` value: de, en, or 'browser' (None: no own choice)."""
    if text == BROWSER_LANGUAGE:
        return None
    if text not in PREFERENCE_LANGUAGES:
        raise typer.BadParameter(
            f"expected one of {', '.join((*PREFERENCE_LANGUAGES, BROWSER_LANGUAGE))}; "
            f"found {text!r}",
            param_hint="--language",
        )
    return text


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time] | None:
    """A `--quiet` value: 'HH:MM-HH:MM' in the site's local time (may run over midnight), or
    'off'."""
    if text == NO_QUIET_HOURS:
        return None
    start, separator, end = text.partition("-")
    try:
        if not separator:
            raise ValueError(text)
        window = (dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip()))
    except ValueError:
        raise typer.BadParameter(
            f"expected HH:MM-HH:MM (local time, e.g. 22:00-06:30) or {NO_QUIET_HOURS}; "
            f"found {text!r}",
            param_hint="--quiet",
        ) from None
    if window[0] == window[1]:
        raise typer.BadParameter(
            f"start and end are both {start.strip()} in {text!r}; expected a window",
            param_hint="--quiet",
        )
    return window


def _quiet_text(preferences: UserPreferences) -> str:
    window = preferences.quiet_hours
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}" if window else "none"


@app.command("notify")
def notify(
    name: Annotated[str, typer.Argument(help="User name.")],
    email: Annotated[
        str | None, typer.Option("--email", help="E-mail address for notifications.")
    ] = None,
    opt_in: Annotated[
        bool | None,
        typer.Option("--on/--off", help="Send (or stop sending) critical incidents to the user."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="Language of the user's e-mails and console pages: de, en, or browser (the "
            "browser's language, else the site's default).",
        ),
    ] = None,
    quiet: Annotated[
        str | None,
        typer.Option(
            "--quiet",
            help="The user's own quiet hours in the site's local time, HH:MM-HH:MM (may run "
            "over midnight, e.g. 22:00-06:30; held e-mails are sent when they end), or off.",
        ),
    ] = None,
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Set a user's e-mail address, opt-in, language and quiet hours for incident notifications
    (what is not given stays as it was)."""
    chosen_language = parse_language(language) if language is not None else None
    window = parse_quiet_hours(quiet) if quiet is not None else None
    store = _store(config, url)
    try:
        current = get_preferences(store, name)
        wanted = dataclasses.replace(
            current,
            email=email if email is not None else current.email,
            notify=opt_in if opt_in is not None else current.notify,
            language=chosen_language if language is not None else current.language,
        )
        if quiet is not None:
            wanted = dataclasses.replace(
                wanted,
                quiet_start=window[0] if window else None,
                quiet_end=window[1] if window else None,
            )
        set_preferences(store, name, wanted, _actor(), _now())
    except (KeyError, UserError) as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"user {name}: e-mail {wanted.email or '-'}, notifications "
        f"{'on' if wanted.notify else 'off'}, language {wanted.language or BROWSER_LANGUAGE}, "
        f"quiet hours {_quiet_text(wanted)}"
    )


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
