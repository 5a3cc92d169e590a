"""`kv user` and `kv serve` from the command line, on a temporary SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner
from web_support import NOW, PASSWORD

from energy.cli.main import app
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.users import authenticate, get_user, resolve_token


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store: Store) -> str:
    url = str(sqlite_store.engine.url)
    monkeypatch.setenv("KV_DATABASE_URL", url)
    monkeypatch.delenv("KV_USER_PASSWORD", raising=False)
    return url


def test_user_add_reads_the_password_from_stdin(db_url: str, sqlite_store: Store) -> None:
    result = CliRunner().invoke(
        app, ["user", "add", "erika", "--role", "operator"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert authenticate(sqlite_store, "erika", PASSWORD) is not None
    entry = read_audit(sqlite_store, action="user.add")[0]
    assert entry["actor"].startswith("cli:")
    assert entry["detail"] == {"role": "operator"}


def test_user_add_reads_the_password_from_the_environment(
    db_url: str, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_USER_PASSWORD", PASSWORD)
    result = CliRunner().invoke(app, ["user", "add", "otto", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert get_user(sqlite_store, "otto").role.value == "admin"  # type: ignore[union-attr]


def test_user_add_refuses_weak_passwords_and_duplicates(db_url: str) -> None:
    runner = CliRunner()
    weak = runner.invoke(app, ["user", "add", "erika", "--role", "viewer"], input="short\n")
    assert weak.exit_code == 1
    assert "at least 10 characters" in weak.output
    runner.invoke(app, ["user", "add", "erika", "--role", "viewer"], input=PASSWORD + "\n")
    again = runner.invoke(app, ["user", "add", "erika", "--role", "viewer"], input=PASSWORD + "\n")
    assert again.exit_code == 1
    assert "exists already" in again.output
    bad_role = runner.invoke(app, ["user", "add", "x", "--role", "root"], input=PASSWORD + "\n")
    assert bad_role.exit_code == 2


def test_user_token_prints_a_working_token_once(db_url: str, sqlite_store: Store) -> None:
    runner = CliRunner()
    runner.invoke(app, ["user", "add", "scada", "--role", "analyst"], input=PASSWORD + "\n")
    result = runner.invoke(app, ["user", "token", "scada", "--name", "export"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    user = resolve_token(sqlite_store, secret, NOW)
    assert user is not None
    assert user.name == "scada"
    listing = runner.invoke(app, ["user", "list"])
    assert "scada" in listing.output
    assert "export" in listing.output
    assert secret not in listing.output
    unknown = runner.invoke(app, ["user", "token", "nobody", "--name", "x"])
    assert unknown.exit_code == 1


def test_user_update_disables_and_changes_role(db_url: str, sqlite_store: Store) -> None:
    runner = CliRunner()
    runner.invoke(app, ["user", "add", "erika", "--role", "viewer"], input=PASSWORD + "\n")
    result = runner.invoke(app, ["user", "update", "erika", "--role", "operator", "--disable"])
    assert result.exit_code == 0, result.output
    user = get_user(sqlite_store, "erika")
    assert user is not None
    assert user.disabled
    assert user.role.value == "operator"
    assert authenticate(sqlite_store, "erika", PASSWORD) is None


def test_serve_refuses_an_unmigrated_store(tmp_path: Path, site: Site) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = CliRunner().invoke(app, ["serve", "--url", url, "--port", "1"])
    assert result.exit_code == 1
    assert "kv db upgrade" in result.output
