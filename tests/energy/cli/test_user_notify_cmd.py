"""`kv user notify`: a user's e-mail address and opt-in from the command line."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.store import Store
from energy.store.users import Role, create_user, notification_contact


@pytest.fixture
def db_url(monkeypatch: pytest.MonkeyPatch, sqlite_store: Store) -> str:
    url = str(sqlite_store.engine.url)
    monkeypatch.setenv("KV_DATABASE_URL", url)
    return url


def test_notify_sets_address_and_opt_in_and_keeps_what_is_not_given(
    db_url: str, sqlite_store: Store
) -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    create_user(sqlite_store, "olga", "lange-passphrase", Role.OPERATOR, "test", now)
    runner = CliRunner()
    result = runner.invoke(app, ["user", "notify", "olga", "--email", "olga@example.de", "--on"])
    assert result.exit_code == 0, result.output
    assert "e-mail olga@example.de, notifications on" in result.output
    assert runner.invoke(app, ["user", "notify", "olga", "--off"]).exit_code == 0
    assert notification_contact(sqlite_store, "olga") == ("olga@example.de", False)
    bad = runner.invoke(app, ["user", "notify", "olga", "--email", "olga"])
    assert bad.exit_code != 0
    assert "local@domain.tld" in bad.output
    assert notification_contact(sqlite_store, "olga") == ("olga@example.de", False)
