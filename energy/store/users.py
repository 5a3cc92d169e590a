"""Users and API tokens of the operator interface (tables users and api_tokens).

Passwords are hashed with argon2id (argon2-cffi's defaults). API tokens are 32 random bytes shown to
their owner once; the store keeps only their SHA-256, so a leaked database does not leak tokens.
A random 32-byte token needs no slow hash: guessing it is infeasible either way.

Every change to a user or token is written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Insert, Select, select, update
from sqlalchemy.exc import SQLAlchemyError

from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import api_tokens, users
from energy.store.sessions import end_user_sessions

log = logging.getLogger(__name__)

__all__ = [
    "ApiTokenRecord",
    "Role",
    "UserError",
    "UserRecord",
    "authenticate",
    "check_email",
    "create_token",
    "create_user",
    "get_user",
    "get_user_by_id",
    "list_tokens",
    "list_users",
    "resolve_token",
    "revoke_token",
    "update_user",
]

TOKEN_PREFIX = "kvt_"
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# one address (local@domain.tld): what an SMTP RCPT TO takes, without display names or lists
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when a user name is unknown, so that a failed login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ANALYST = "analyst"
    ADMIN = "admin"
    #: the grid operator's (or a marketer's) API account: sets §14a and feed-in limits only
    GRID_OPERATOR = "grid_operator"


class UserError(ValueError):
    """A user or token change was refused (unknown name, duplicate, weak password)."""


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    role: Role
    created_at: dt.datetime
    disabled: bool
    credential_stamp: str = field(default="", repr=False)
    """Changes whenever the password does (a digest of its hash): sessions started before a
    password change can be told apart and ended."""


@dataclass(frozen=True)
class ApiTokenRecord:
    id: int
    user_id: int
    user_name: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _user(row: object) -> UserRecord:
    data = row._mapping  # type: ignore[attr-defined]
    return UserRecord(
        id=int(data["id"]),
        name=data["name"],
        role=Role(data["role"]),
        created_at=data["created_at"],
        disabled=bool(data["disabled"]),
        credential_stamp=_stamp(data["password_hash"]),
    )


def _new_id(conn: Connection, statement: Insert) -> int:
    key = conn.execute(statement).inserted_primary_key
    assert key is not None, "INSERT returned no primary key"
    return int(key[0])


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: expected 1 to 64 letters, digits or . _ - @")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"password: expected at least {MIN_PASSWORD_LENGTH} characters, found {len(password)}"
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    store: Store, name: str, password: str, role: Role, actor: str, now: dt.datetime
) -> UserRecord:
    _check_name(name)
    _check_password(password)
    with store.engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise UserError(f"user {name!r} exists already")
        user_id = _new_id(
            conn,
            users.insert().values(
                name=name,
                password_hash=_hasher.hash(password),
                role=role.value,
                created_at=now,
                disabled=False,
            ),
        )
        append_audit_in(conn, now, actor, "user.add", f"user:{name}", {"role": role.value})
    return get_user_by_id(store, int(user_id))


def get_user(store: Store, name: str) -> UserRecord | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    return _user(row) if row is not None else None


def get_user_by_id(store: Store, user_id: int) -> UserRecord:
    with store.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise KeyError(f"no user with id {user_id}")
    return _user(row)


def list_users(store: Store) -> list[UserRecord]:
    with store.engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def update_user(
    store: Store,
    name: str,
    actor: str,
    now: dt.datetime,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> UserRecord:
    """Change role, disabled flag or password; only the fields given change. A new password or
    disabling the user ends every session of the user (energy.store.sessions)."""
    values: dict[str, object] = {}
    detail: dict[str, object] = {}
    if role is not None:
        values["role"] = detail["role"] = role.value
    if disabled is not None:
        values["disabled"] = detail["disabled"] = disabled
    if password is not None:
        _check_password(password)
        values["password_hash"] = _hasher.hash(password)
        detail["password"] = "changed"
    with store.engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if user_id is None:
            raise KeyError(f"no user named {name!r}")
        if values:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if password is not None or disabled:
            reason = "password_changed" if password is not None else "disabled"
            detail["sessions_ended"] = end_user_sessions(None, user_id, now, reason, conn=conn)
        append_audit_in(conn, now, actor, "user.update", f"user:{name}", detail)
    return get_user_by_id(store, int(user_id))


def end_sessions_of(store: Store, name: str, actor: str, now: dt.datetime) -> int:
    """An administrator ends every session of a user (audited); returns how many were open."""
    with store.engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if user_id is None:
            raise KeyError(f"no user named {name!r}")
        ended = end_user_sessions(None, int(user_id), now, "ended_by_admin", conn=conn)
        append_audit_in(
            conn, now, actor, "user.sessions_end", f"user:{name}", {"sessions_ended": ended}
        )
    return ended


def authenticate(store: Store, name: str, password: str) -> UserRecord | None:
    """The enabled user with this name and password, else None (same work either way)."""
    with store.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    user = _user(row)
    if _hasher.check_needs_rehash(stored):
        rehashed = _hasher.hash(password)
        with store.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == row.id).values(password_hash=rehashed))
        user = replace(user, credential_stamp=_stamp(rehashed))
    return user


def create_token(
    store: Store, user_name: str, token_name: str, actor: str, now: dt.datetime
) -> tuple[str, ApiTokenRecord]:
    """A new API token for a user: (the secret, shown once; its record)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == user_name)).scalar()
        if user_id is None:
            raise KeyError(f"no user named {user_name!r}")
        token_id = _new_id(
            conn,
            api_tokens.insert().values(
                user_id=user_id, name=token_name, token_hash=hash_token(secret), created_at=now
            ),
        )
        append_audit_in(
            conn,
            now,
            actor,
            "token.create",
            f"user:{user_name}",
            {"token_id": token_id, "name": token_name},
        )
    record = next(t for t in list_tokens(store, user_name) if t.id == token_id)
    return secret, record


def _token_query() -> Select[Any]:
    return select(
        api_tokens.c.id,
        api_tokens.c.user_id,
        users.c.name.label("user_name"),
        api_tokens.c.name,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
        api_tokens.c.revoked_at,
    ).join(users, users.c.id == api_tokens.c.user_id)


def list_tokens(store: Store, user_name: str | None = None) -> list[ApiTokenRecord]:
    query = _token_query().order_by(api_tokens.c.id)
    if user_name is not None:
        query = query.where(users.c.name == user_name)
    with store.engine.connect() as conn:
        return [ApiTokenRecord(**r._mapping) for r in conn.execute(query)]


def revoke_token(store: Store, token_id: int, actor: str, now: dt.datetime) -> None:
    with store.engine.begin() as conn:
        row = conn.execute(_token_query().where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise KeyError(f"no API token with id {token_id}")
        if row.revoked_at is not None:
            raise UserError(f"API token {token_id} is revoked already")
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
        append_audit_in(
            conn, now, actor, "token.revoke", f"user:{row.user_name}", {"token_id": token_id}
        )


def resolve_token(store: Store, secret: str, now: dt.datetime) -> UserRecord | None:
    """The enabled user owning this unrevoked token, else None.

    last_used_at is refreshed at most once a minute, so that automation polling the API does not
    write to the store on every request.
    """
    query = (
        select(
            api_tokens.c.id.label("token_id"),
            api_tokens.c.last_used_at,
            users.c.id,
            users.c.name,
            users.c.role,
            users.c.created_at,
            users.c.disabled,
            users.c.password_hash,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.token_hash == hash_token(secret), api_tokens.c.revoked_at.is_(None))
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at > _TOKEN_USE_RESOLUTION:
        try:
            with store.engine.begin() as conn:
                conn.execute(
                    update(api_tokens)
                    .where(api_tokens.c.id == row.token_id)
                    .values(last_used_at=now)
                )
        except SQLAlchemyError as exc:  # a store taking no writes still authenticates reads
            log.warning("token %d: last use not recorded (%s)", row.token_id, type(exc).__name__)
    return _user(row)


def check_email(name: str, email: str) -> None:
    """One address (local@domain.tld) or UserError naming the user."""
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise UserError(f"e-mail address of {name!r}: expected local@domain.tld, found {email!r}")
