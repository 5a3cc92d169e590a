"""Users' e-mail address and opt-in for incident notifications (energy.store.users)."""

from __future__ import annotations

import datetime as dt

import pytest

from energy.store.audit import read_audit
from energy.store.engine import Store
from energy.store.preferences import notification_recipients
from energy.store.users import (
    Role,
    UserError,
    create_user,
    notification_contact,
    set_notification_contact,
    update_user,
)

NOW = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC)


def _user(store: Store, name: str) -> None:
    create_user(store, name, "lange-passphrase", Role.OPERATOR, "test", NOW)


def test_only_enabled_users_who_opted_in_receive(store: Store) -> None:
    for name in ("olga", "udo", "erika", "otto"):
        _user(store, name)
    assert notification_contact(store, "olga") == (None, False)
    set_notification_contact(store, "olga", "olga@example.de", True, "admin", NOW)
    set_notification_contact(store, "udo", "udo@example.de", False, "admin", NOW)
    set_notification_contact(store, "erika", "erika@example.de", True, "admin", NOW)
    update_user(store, "erika", "admin", NOW, disabled=True)
    assert [r.email for r in notification_recipients(store)] == ["olga@example.de"]
    assert notification_contact(store, "olga") == ("olga@example.de", True)
    audited = {e["target"]: e["detail"] for e in read_audit(store, action="user.notification")}
    assert audited["user:erika"] == {"email": "erika@example.de", "opt_in": True}
    assert len(audited) == 3


@pytest.mark.parametrize(
    ("email", "opt_in", "match"),
    [
        ("olga", True, "expected local@domain.tld, found 'olga'"),
        ("olga@example.de, udo@example.de", True, "expected local@domain.tld"),
        (None, True, "need an e-mail address"),
    ],
)
def test_bad_contacts_are_refused(
    sqlite_store: Store, email: str | None, opt_in: bool, match: str
) -> None:
    _user(sqlite_store, "olga")
    with pytest.raises(UserError, match=match):
        set_notification_contact(sqlite_store, "olga", email, opt_in, "admin", NOW)
    assert notification_contact(sqlite_store, "olga") == (None, False)


def test_an_unknown_user_is_named(sqlite_store: Store) -> None:
    with pytest.raises(KeyError, match="nobody"):
        set_notification_contact(sqlite_store, "nobody", None, False, "admin", NOW)
