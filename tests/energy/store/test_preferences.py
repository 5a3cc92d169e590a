"""A user's own preferences (energy.store.preferences): round trip on both backends, refusals,
the audit entry, who receives notifications, and migration 0008 keeping existing users."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import text

from energy.store.audit import read_audit
from energy.store.engine import Store
from energy.store.preferences import (
    Recipient,
    UserPreferences,
    get_preferences,
    notification_recipients,
    set_preferences,
)
from energy.store.users import Role, UserError, create_user, update_user

NOW = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC)


def _user(store: Store, name: str) -> None:
    create_user(store, name, "lange-passphrase", Role.OPERATOR, "test", NOW)


def test_preferences_round_trip_and_are_audited(store: Store) -> None:
    _user(store, "olga")
    assert get_preferences(store, "olga") == UserPreferences()
    wanted = UserPreferences(
        language="en",
        email="olga@example.de",
        notify=True,
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(6, 30),
    )
    set_preferences(store, "olga", wanted, "olga", NOW)
    assert get_preferences(store, "olga") == wanted
    entry = read_audit(store, action="user.preferences")[0]
    assert entry["actor"] == "olga"
    assert entry["detail"] == {
        "language": "en",
        "email": "olga@example.de",
        "notify": True,
        "quiet_hours": ["22:00", "06:30"],
    }
    set_preferences(store, "olga", UserPreferences(), "olga", NOW)
    assert get_preferences(store, "olga") == UserPreferences()


@pytest.mark.parametrize(
    ("preferences", "problem"),
    [
        (UserPreferences(language="fr"), "expected one of"),
        (UserPreferences(email="no address"), "local@domain.tld"),
        (UserPreferences(notify=True), "need an e-mail address"),
        (UserPreferences(quiet_start=dt.time(22, 0)), "both a start and an end"),
        (UserPreferences(quiet_start=dt.time(8, 0), quiet_end=dt.time(8, 0)), "a window"),
    ],
)
def test_bad_preferences_are_refused_and_nothing_changes(
    sqlite_store: Store, preferences: UserPreferences, problem: str
) -> None:
    _user(sqlite_store, "olga")
    with pytest.raises(UserError, match=problem):
        set_preferences(sqlite_store, "olga", preferences, "olga", NOW)
    assert get_preferences(sqlite_store, "olga") == UserPreferences()
    with pytest.raises(KeyError):
        set_preferences(sqlite_store, "nobody", UserPreferences(), "olga", NOW)


def test_recipients_carry_their_language_and_quiet_hours(sqlite_store: Store) -> None:
    for name in ("olga", "udo", "erika"):
        _user(sqlite_store, name)
    quiet = UserPreferences(
        email="olga@example.de", notify=True, quiet_start=dt.time(22), quiet_end=dt.time(6)
    )
    set_preferences(sqlite_store, "olga", quiet, "olga", NOW)
    set_preferences(sqlite_store, "udo", UserPreferences(email="udo@example.de"), "udo", NOW)
    english = UserPreferences(language="en", email="erika@example.de", notify=True)
    set_preferences(sqlite_store, "erika", english, "erika", NOW)
    update_user(sqlite_store, "erika", "admin", NOW, disabled=True)
    assert notification_recipients(sqlite_store) == [
        Recipient("olga@example.de", None, (dt.time(22), dt.time(6)))
    ]
    update_user(sqlite_store, "erika", "admin", NOW, disabled=False)
    assert [r.language for r in notification_recipients(sqlite_store)] == ["en", None]


def test_migration_0008_keeps_existing_users(store: Store) -> None:
    _user(store, "olga")
    command.downgrade(store._alembic_config(), "0007")
    assert store.current_revision() == "0007"
    store.upgrade()
    assert get_preferences(store, "olga") == UserPreferences()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM users")).scalars().all() == ["olga"]
