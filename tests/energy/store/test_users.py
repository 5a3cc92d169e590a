"""Users and API tokens in the store: hashing, authentication, tokens, audit (both backends)."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import energy.store.users
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.schema import api_tokens, users
from energy.store.users import (
    Role,
    UserError,
    authenticate,
    create_token,
    create_user,
    get_user,
    list_tokens,
    resolve_token,
    revoke_token,
    update_user,
)

NOW = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
PASSWORD = "a long enough password"


def test_password_is_stored_as_argon2_hash_and_checked(store: Store) -> None:
    create_user(store, "erika", PASSWORD, Role.OPERATOR, "admin", NOW)
    with store.engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    user = authenticate(store, "erika", PASSWORD)
    assert user is not None
    assert user.role is Role.OPERATOR
    assert authenticate(store, "erika", PASSWORD + "x") is None
    assert authenticate(store, "nobody", PASSWORD) is None


def test_rehash_on_login_keeps_the_returned_stamp_current(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash made with weaker parameters is upgraded at login; the record then matches it."""
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(energy.store.users, "_hasher", weak)
    create_user(store, "erika", PASSWORD, Role.VIEWER, "admin", NOW)
    monkeypatch.setattr(energy.store.users, "_hasher", PasswordHasher())
    user = authenticate(store, "erika", PASSWORD)
    assert user is not None
    assert user.credential_stamp == get_user(store, "erika").credential_stamp  # type: ignore[union-attr]
    with store.engine.connect() as conn:
        assert "m=8," not in conn.execute(select(users.c.password_hash)).scalar_one()


def test_disabled_user_cannot_authenticate_or_use_tokens(store: Store) -> None:
    create_user(store, "erika", PASSWORD, Role.VIEWER, "admin", NOW)
    secret, _ = create_token(store, "erika", "ci", "admin", NOW)
    update_user(store, "erika", "admin", NOW, disabled=True)
    assert authenticate(store, "erika", PASSWORD) is None
    assert resolve_token(store, secret, NOW) is None


def test_token_is_stored_hashed_resolves_and_can_be_revoked(store: Store) -> None:
    create_user(store, "scada", PASSWORD, Role.ANALYST, "admin", NOW)
    secret, record = create_token(store, "scada", "export", "admin", NOW)
    with store.engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash)).scalar_one()
    assert secret not in stored
    assert len(stored) == 64
    user = resolve_token(store, secret, NOW + dt.timedelta(minutes=5))
    assert user is not None
    assert user.name == "scada"
    assert list_tokens(store, "scada")[0].last_used_at == NOW + dt.timedelta(minutes=5)
    assert resolve_token(store, secret + "x", NOW) is None
    revoke_token(store, record.id, "admin", NOW)
    assert resolve_token(store, secret, NOW) is None
    with pytest.raises(UserError, match="revoked already"):
        revoke_token(store, record.id, "admin", NOW)


def test_user_changes_are_audited_without_secrets(store: Store) -> None:
    create_user(store, "erika", PASSWORD, Role.VIEWER, "admin", NOW)
    update_user(store, "erika", "admin", NOW, role=Role.OPERATOR, password=PASSWORD + "!")
    create_token(store, "erika", "ci", "admin", NOW)
    entries = read_audit(store, actor="admin")
    assert [e["action"] for e in entries][::-1] == ["user.add", "user.update", "token.create"]
    assert PASSWORD not in str(entries)
    assert authenticate(store, "erika", PASSWORD + "!") is not None


def test_refusals(store: Store) -> None:
    with pytest.raises(UserError, match="letters, digits"):
        create_user(store, "erika mustermann", PASSWORD, Role.VIEWER, "admin", NOW)
    with pytest.raises(UserError, match="at least 10"):
        create_user(store, "erika", "short", Role.VIEWER, "admin", NOW)
    create_user(store, "erika", PASSWORD, Role.VIEWER, "admin", NOW)
    with pytest.raises(UserError, match="exists already"):
        create_user(store, "erika", PASSWORD, Role.ADMIN, "admin", NOW)
    with pytest.raises(KeyError):
        update_user(store, "nobody", "admin", NOW, role=Role.ADMIN)
    with pytest.raises(KeyError):
        create_token(store, "nobody", "x", "admin", NOW)
