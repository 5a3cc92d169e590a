"""A user's own preferences (columns of the users table): the console's language, the e-mail
address notifications go to and whether they want them, and their quiet hours.

The language is what the console speaks to the user after login (energy.web.pages sets it as
the language cookie); None leaves it to the browser and the site's default. Quiet hours are a
daily window of site local time, possibly over midnight, in which the notification job sends
the user nothing (energy.notify.job); the site's own on-call addresses and webhooks are not
affected. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import users
from energy.store.users import UserError, check_email

__all__ = [
    "PREFERENCE_LANGUAGES",
    "Recipient",
    "UserPreferences",
    "get_preferences",
    "notification_recipients",
    "set_preferences",
]

#: the languages a user may choose (the console's catalogues)
PREFERENCE_LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class UserPreferences:
    language: str | None = None
    """de or en; None: the browser's choice, else the site's default"""
    email: str | None = None
    notify: bool = False
    """whether incident notifications go to `email`"""
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None

    @property
    def quiet_hours(self) -> tuple[dt.time, dt.time] | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return self.quiet_start, self.quiet_end


@dataclass(frozen=True)
class Recipient:
    """An enabled user who wants notifications: where to, in which language, and when not."""

    email: str
    language: str | None
    quiet_hours: tuple[dt.time, dt.time] | None


def _check(name: str, preferences: UserPreferences) -> None:
    if preferences.language is not None and preferences.language not in PREFERENCE_LANGUAGES:
        raise UserError(
            f"language of {name!r}: expected one of {list(PREFERENCE_LANGUAGES)}, "
            f"found {preferences.language!r}"
        )
    if preferences.email is not None:
        check_email(name, preferences.email)
    if preferences.notify and preferences.email is None:
        raise UserError(f"user {name!r}: notifications need an e-mail address")
    if (preferences.quiet_start is None) != (preferences.quiet_end is None):
        raise UserError(f"quiet hours of {name!r}: expected both a start and an end, or neither")
    if preferences.quiet_start is not None and preferences.quiet_start == preferences.quiet_end:
        raise UserError(
            f"quiet hours of {name!r}: start and end are both {preferences.quiet_start}; "
            "expected a window"
        )


def _minute(value: dt.time | None) -> dt.time | None:
    return value.replace(second=0, microsecond=0) if value is not None else None


def _time(value: dt.time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def set_preferences(
    store: Store, name: str, preferences: UserPreferences, actor: str, now: dt.datetime
) -> None:
    """Store a user's preferences (all of them; audited as user.preferences)."""
    _check(name, preferences)
    with store.engine.begin() as conn:
        result = conn.execute(
            update(users)
            .where(users.c.name == name)
            .values(
                language=preferences.language,
                email=preferences.email,
                notify_opt_in=preferences.notify,
                quiet_start=_minute(preferences.quiet_start),
                quiet_end=_minute(preferences.quiet_end),
            )
        )
        if result.rowcount != 1:
            raise KeyError(f"no user named {name!r}")
        append_audit_in(
            conn,
            now,
            actor,
            "user.preferences",
            f"user:{name}",
            {
                "language": preferences.language,
                "email": preferences.email,
                "notify": preferences.notify,
                "quiet_hours": [_time(preferences.quiet_start), _time(preferences.quiet_end)]
                if preferences.quiet_hours
                else None,
            },
        )


def get_preferences(store: Store, name: str) -> UserPreferences:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(
                users.c.language,
                users.c.email,
                users.c.notify_opt_in,
                users.c.quiet_start,
                users.c.quiet_end,
            ).where(users.c.name == name)
        ).first()
    if row is None:
        raise KeyError(f"no user named {name!r}")
    return UserPreferences(
        language=row.language,
        email=row.email,
        notify=bool(row.notify_opt_in),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
    )


def notification_recipients(store: Store) -> list[Recipient]:
    """The enabled users who opted in to notifications, by address."""
    query = (
        select(users.c.email, users.c.language, users.c.quiet_start, users.c.quiet_end)
        .where(
            users.c.notify_opt_in.is_(True),
            users.c.disabled.is_(False),
            users.c.email.is_not(None),
        )
        .order_by(users.c.email)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Recipient(
            email=str(row.email),
            language=row.language,
            quiet_hours=(row.quiet_start, row.quiet_end)
            if row.quiet_start is not None and row.quiet_end is not None
            else None,
        )
        for row in rows
    ]
