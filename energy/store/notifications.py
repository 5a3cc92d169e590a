"""The log of notifications sent (table notifications_sent): what the notification job
(energy.notify.job) sent for which incident, so that a restart does not send it again.

A notification held back by a user's own quiet hours and sent to them when those end is logged
with reason `QUIET_END` and channels `email:<address>`: it tells who has heard of the incident
since, but it is no notification of the incident to everyone (`last_sent` skips it, so that the
site's repeat interval still counts from the last one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from energy.store.engine import Store
from energy.store.schema import notifications_sent

__all__ = [
    "EMAIL_PREFIX",
    "QUIET_END",
    "SentNotification",
    "addresses_caught_up",
    "last_sent",
    "record_sent",
]

QUIET_END = "quiet_end"
EMAIL_PREFIX = "email:"


@dataclass(frozen=True)
class SentNotification:
    incident_key: str
    alarm_ids: frozenset[int]
    severity: str
    reason: str
    sent_at: dt.datetime
    channels: tuple[str, ...]


def record_sent(
    store: Store,
    site_id: str,
    incident_key: str,
    alarm_ids: Iterable[int],
    severity: str,
    reason: str,
    sent_at: dt.datetime,
    channels: Iterable[str],
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            notifications_sent.insert().values(
                site_id=site_id,
                incident_key=incident_key,
                alarm_ids=sorted(alarm_ids),
                severity=severity,
                reason=reason,
                sent_at=sent_at,
                channels=list(channels),
            )
        )


def last_sent(store: Store, site_id: str, incident_key: str) -> SentNotification | None:
    """The newest notification sent for an incident key, if any."""
    query = (
        select(notifications_sent)
        .where(
            notifications_sent.c.site_id == site_id,
            notifications_sent.c.incident_key == incident_key,
            notifications_sent.c.reason != QUIET_END,
        )
        .order_by(notifications_sent.c.sent_at.desc(), notifications_sent.c.id.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return SentNotification(
        incident_key=row.incident_key,
        alarm_ids=frozenset(int(i) for i in row.alarm_ids),
        severity=row.severity,
        reason=row.reason,
        sent_at=row.sent_at,
        channels=tuple(row.channels),
    )


def addresses_caught_up(
    store: Store, site_id: str, incident_key: str, since: dt.datetime
) -> set[str]:
    """The addresses sent an incident at the end of their quiet hours after `since`."""
    query = select(notifications_sent.c.channels).where(
        notifications_sent.c.site_id == site_id,
        notifications_sent.c.incident_key == incident_key,
        notifications_sent.c.reason == QUIET_END,
        notifications_sent.c.sent_at > since,
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {
        channel.removeprefix(EMAIL_PREFIX)
        for row in rows
        for channel in row.channels
        if str(channel).startswith(EMAIL_PREFIX)
    }
