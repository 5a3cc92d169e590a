"""Status of the data-hub publication targets (MQTT broker, NGSI-LD broker, open data), for the
status page, and the alarm when a target has failed for longer than its limit.

`record_publication` is called after every attempt of a target: success clears `failing_since`
(and the target's `publication_failed` alarm); a failure keeps the first failure time, so the
alarm is raised once the target has been failing for `alarm_after_s` without a success.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from energy.alarm_texts import alarm_text
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.engine import Store
from energy.store.schema import publication_targets

__all__ = ["ALARM_CODE", "PublicationAttempt", "publication_status", "record_publication"]

ALARM_CODE = "publication_failed"


@dataclass(frozen=True)
class PublicationAttempt:
    target: str
    endpoint: str
    ok: bool
    error: str | None = None
    queue_length: int = 0
    dropped_total: int = 0
    sent: int = 0


def record_publication(
    store: Store, site_id: str, attempt: PublicationAttempt, alarm_after_s: float, now: dt.datetime
) -> bool:
    """Store one attempt's outcome; raise or clear the target's alarm. Returns True while the
    target's alarm is (now) raised."""
    key = (publication_targets.c.site_id == site_id) & (
        publication_targets.c.target == attempt.target
    )
    with store.engine.begin() as conn:
        row = conn.execute(select(publication_targets).where(key)).first()
        if row is None:
            conn.execute(
                publication_targets.insert().values(
                    site_id=site_id,
                    target=attempt.target,
                    endpoint=attempt.endpoint,
                    queue_length=0,
                    dropped_total=0,
                    sent_total=0,
                )
            )
            failing_since, sent_total = None, 0
        else:
            failing_since, sent_total = row.failing_since, row.sent_total
        values: dict[str, Any] = {
            "endpoint": attempt.endpoint,
            "last_attempt_at": now,
            "queue_length": attempt.queue_length,
            "dropped_total": attempt.dropped_total,
            "sent_total": sent_total + attempt.sent,
        }
        if attempt.ok:
            values |= {"last_success_at": now, "failing_since": None, "last_error": None}
            failing_since = None
        else:
            failing_since = failing_since or now
            values |= {"failing_since": failing_since, "last_error": (attempt.error or "")[:2000]}
        conn.execute(update(publication_targets).where(key).values(**values))
    if failing_since is None:
        clear_alarm(store, site_id, ALARM_CODE, attempt.target, now)
        return False
    if (now - failing_since).total_seconds() > alarm_after_s:
        raise_alarm(
            store,
            site_id,
            ALARM_CODE,
            attempt.target,
            Severity.WARNING,
            alarm_text(
                "publication.failing",
                target=attempt.target,
                endpoint=attempt.endpoint,
                since_at=failing_since,
                error=attempt.error or "",
                waiting=attempt.queue_length,
            ),
            now,
        )
        return True
    return False


def publication_status(store: Store, site_id: str) -> list[dict[str, Any]]:
    """Every target's status row, by target name."""
    query = (
        select(publication_targets)
        .where(publication_targets.c.site_id == site_id)
        .order_by(publication_targets.c.target)
    )
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
