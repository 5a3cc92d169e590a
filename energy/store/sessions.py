"""Browser sessions held on the server: logout, a password change or an administrator ends them.

The signed cookie carries only a random secret; the store keeps its SHA-256 with the user, the
expiry and, once ended, when and why. A session is valid while it exists, has not ended and has
not expired, so a cookie copied before a logout is worthless afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import SQLAlchemyError

from energy.store.engine import Store
from energy.store.schema import sessions

__all__ = ["end_session", "end_user_sessions", "open_session", "session_user"]

log = logging.getLogger(__name__)

_SEEN_RESOLUTION = dt.timedelta(minutes=1)


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(store: Store, user_id: int, now: dt.datetime, max_age_s: float) -> str:
    """A new session for a user who just logged in; returns the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        conn.execute(
            sessions.insert().values(
                id=_key(secret),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(seconds=max_age_s),
            )
        )
    return secret


def session_user(store: Store, secret: str, now: dt.datetime) -> int | None:
    """The user id of a valid session, else None (last use refreshed at most once a minute)."""
    key = _key(secret)
    with store.engine.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.id == key)).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > _SEEN_RESOLUTION:
        try:
            with store.engine.begin() as conn:
                conn.execute(update(sessions).where(sessions.c.id == key).values(last_seen_at=now))
        except SQLAlchemyError as exc:  # a store taking no writes still serves reads
            log.warning("session last use not recorded (%s)", type(exc).__name__)
    return int(row.user_id)


def end_session(store: Store, secret: str, now: dt.datetime, reason: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(sessions)
            .where(sessions.c.id == _key(secret), sessions.c.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )


def end_user_sessions(
    store: Store | None, user_id: int, now: dt.datetime, reason: str, conn: Connection | None = None
) -> int:
    """End every open session of a user (in `conn`'s transaction when given); returns how many."""
    statement = (
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    if conn is not None:
        return int(conn.execute(statement).rowcount)
    assert store is not None
    with store.engine.begin() as own:
        return int(own.execute(statement).rowcount)
