"""`kv user notify`: a user's e-mail address, opt-in, language and quiet hours from the command
line."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.store import Store
from energy.store.preferences import UserPreferences, get_preferences
from energy.store.users import Role, create_user


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
    assert get_preferences(sqlite_store, "olga") == UserPreferences(email="olga@example.de")
    bad = runner.invoke(app, ["user", "notify", "olga", "--email", "olga"])
    assert bad.exit_code != 0
    assert "local@domain.tld" in bad.output
    assert get_preferences(sqlite_store, "olga") == UserPreferences(email="olga@example.de")


def test_notify_sets_language_and_quiet_hours_and_names_a_bad_value(
    db_url: str, sqlite_store: Store
) -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    create_user(sqlite_store, "erika", "lange-passphrase", Role.OPERATOR, "test", now)
    runner = CliRunner()
    args = ["user", "notify", "erika", "--email", "erika@example.de", "--on"]
    result = runner.invoke(app, [*args, "--language", "en", "--quiet", "22:00-06:30"])
    assert result.exit_code == 0, result.output
    assert "language en, quiet hours 22:00-06:30" in result.output
    assert get_preferences(sqlite_store, "erika") == UserPreferences(
        language="en",
        email="erika@example.de",
        notify=True,
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(6, 30),
    )
    assert runner.invoke(app, ["user", "notify", "erika", "--off"]).exit_code == 0
    kept = get_preferences(sqlite_store, "erika")
    assert (kept.language, kept.quiet_hours) == ("en", (dt.time(22, 0), dt.time(6, 30)))
    for option, value in (
        ("--language", "fr"),
        ("--quiet", "25:00-06:00"),
        ("--quiet", "22:00"),
        ("--quiet", "07:00-07:00"),
    ):
        bad = runner.invoke(app, ["user", "notify", "erika", option, value])
        assert bad.exit_code == 2, (option, value)
        assert value in bad.output, bad.output
        assert option in bad.output, bad.output
    assert get_preferences(sqlite_store, "erika") == kept
    cleared = runner.invoke(
        app, ["user", "notify", "erika", "--language", "browser", "--quiet", "off"]
    )
    assert cleared.exit_code == 0, cleared.output
    assert "language browser, quiet hours none" in cleared.output
    after = get_preferences(sqlite_store, "erika")
    assert (after.language, after.quiet_hours, after.notify) == (None, None, False)


def test_notify_help_explains_language_and_quiet_hours() -> None:
    result = CliRunner().invoke(app, ["user", "notify", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("--language", "browser", "--quiet", "22:00-06:30"):
        assert text in result.output
