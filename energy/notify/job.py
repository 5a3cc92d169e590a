"""The notification job: sends the due incidents (energy.notify.policy) to every channel and
records what it sent in the store, so that a restart sends nothing twice.

A channel that fails (SMTP server down, webhook answering 500) never ends the control loop: the
failure is logged and raised as one `notification_failed` warning per channel (deduplicated like
every alarm, energy.store.alarms), cleared when the channel delivers again. An incident is recorded
as sent when at least one channel delivered it; when none did, it stays due and is tried again on
the next run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from energy.notification_config import NotificationsConfig
from energy.notify.channels import ChannelError, post_webhook, send_email
from energy.notify.message import Notification, compose
from energy.notify.policy import due_reason, incident_key
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.engine import Store
from energy.store.incidents import open_incidents
from energy.store.notifications import last_sent, record_sent
from energy.store.users import notification_recipients

__all__ = ["FAILURE_CODE", "Notifier"]

log = logging.getLogger(__name__)

FAILURE_CODE = "notification_failed"
EMAIL_CHANNEL = "email"


class Notifier:
    """Notifies the incidents of one site (see module docstring)."""

    def __init__(
        self, store: Store, site_id: str, site_name: str, config: NotificationsConfig, tz: ZoneInfo
    ):
        self.store = store
        self.site_id = site_id
        self.site_name = site_name
        self.config = config
        self.tz = tz

    def _channels(self) -> list[str]:
        names = [EMAIL_CHANNEL] if self.config.smtp is not None else []
        return names + [f"webhook-{n}" for n in range(1, len(self.config.webhooks) + 1)]

    async def run(self, now: dt.datetime) -> str:
        """Send what is due at `now`; returns a summary for the job log."""
        incidents = await asyncio.to_thread(open_incidents, self.store, self.site_id)
        recipients = await asyncio.to_thread(notification_recipients, self.store)
        failures: dict[str, str] = {}
        delivered_any: set[str] = set()
        sent = 0
        for incident in incidents:
            key = incident_key(incident)
            last = await asyncio.to_thread(last_sent, self.store, self.site_id, key)
            reason = due_reason(incident, last, now, self.config, self.tz)
            if reason is None:
                continue
            note = compose(
                incident,
                reason,
                self.site_name,
                self.config.console_url,
                self.tz,
                self.config.language,
            )
            delivered = await self._deliver(note, recipients, failures)
            delivered_any.update(delivered)
            if delivered:
                sent += 1
                await asyncio.to_thread(
                    record_sent,
                    self.store,
                    self.site_id,
                    key,
                    incident.alarm_ids,
                    incident.severity,
                    reason.value,
                    now,
                    delivered,
                )
        await asyncio.to_thread(self._channel_alarms, failures, delivered_any, now)
        summary = f"{sent} incident(s) notified of {len(incidents)} open"
        if failures:
            summary += f"; failed: {', '.join(sorted(failures))}"
        return summary

    async def _deliver(
        self, note: Notification, users: list[str], failures: dict[str, str]
    ) -> list[str]:
        """Send to every channel that has not failed in this run yet (a dead server costs one
        timeout per run, not one per incident); returns the channels that delivered and adds
        the reasons of those that failed to `failures`."""
        attempts: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        smtp = self.config.smtp
        if smtp is not None:
            recipients = sorted(set(users) | set(smtp.recipients))
            attempts.append(
                (EMAIL_CHANNEL, lambda: asyncio.to_thread(send_email, note, smtp, recipients))
            )
        for number, hook in enumerate(self.config.webhooks, start=1):
            attempts.append((f"webhook-{number}", functools.partial(post_webhook, note, hook)))
        delivered: list[str] = []
        for channel, attempt in attempts:
            if channel in failures:
                continue
            try:
                await attempt()
                delivered.append(channel)
            except ChannelError as exc:
                failures[channel] = str(exc)
                log.error("notification not sent via %s: %s", channel, exc)
        return delivered

    def _channel_alarms(
        self, failures: dict[str, str], delivered: set[str], now: dt.datetime
    ) -> None:
        for channel in self._channels():
            source = f"notify.{channel}"
            if channel in failures:
                raise_alarm(
                    self.store,
                    self.site_id,
                    FAILURE_CODE,
                    source,
                    Severity.WARNING,
                    f"notification not sent via {channel}: {failures[channel]}"[:2000],
                    now,
                )
            elif channel in delivered:
                clear_alarm(self.store, self.site_id, FAILURE_CODE, source, now)
