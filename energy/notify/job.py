"""The notification job: sends the due incidents (energy.notify.policy) to every channel and
records what it sent in the store, so that a restart sends nothing twice.

E-mail goes to the users who opted in, each in their own language (else the site's) and not
during their own quiet hours (energy.store.preferences; such a user is sent the incident alone
when their quiet hours end, if it is still unacknowledged: `energy.notify.policy.
held_by_quiet_hours`), and to the site's own recipients in the site's language: one message per
language.

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

from energy.alarm_texts import alarm_text
from energy.notification_config import NotificationsConfig, SmtpConfig
from energy.notify.channels import ChannelError, post_webhook, send_email
from energy.notify.message import Notification, compose
from energy.notify.policy import (
    Reason,
    due_reason,
    held_by_quiet_hours,
    in_window,
    incident_key,
    may_send,
)
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.engine import Store
from energy.store.incidents import Incident, open_incidents
from energy.store.notifications import (
    EMAIL_PREFIX,
    SentNotification,
    addresses_caught_up,
    last_sent,
    record_sent,
)
from energy.store.preferences import Recipient, notification_recipients

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
        sent = caught_up = 0
        for incident in incidents:
            key = incident_key(incident)
            last = await asyncio.to_thread(last_sent, self.store, self.site_id, key)
            reason = due_reason(incident, last, now, self.config, self.tz)
            if reason is None:
                addresses = await self._catch_up(incident, last, recipients, now, failures)
                if addresses:
                    delivered_any.add(EMAIL_CHANNEL)
                    caught_up += len(addresses)
                continue
            delivered = await self._deliver(incident, reason, recipients, now, failures)
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
        if caught_up:
            summary += f"; {caught_up} e-mail(s) held by quiet hours sent"
        if failures:
            summary += f"; failed: {', '.join(sorted(failures))}"
        return summary

    def _note(self, incident: Incident, reason: Reason, language: str) -> Notification:
        return compose(incident, reason, self.site_name, self.config.console_url, self.tz, language)

    def _addresses(self, users: list[Recipient], now: dt.datetime) -> dict[str, list[str]]:
        """E-mail addresses by language: the users outside their quiet hours in their own
        language, the site's recipients in the site's."""
        local = now.astimezone(self.tz).time()
        groups: dict[str, set[str]] = {}
        for user in users:
            if user.quiet_hours is not None and in_window(local, *user.quiet_hours):
                continue
            groups.setdefault(user.language or self.config.language, set()).add(user.email)
        smtp = self.config.smtp
        if smtp is not None and smtp.recipients:
            groups.setdefault(self.config.language, set()).update(smtp.recipients)
        return {language: sorted(addresses) for language, addresses in sorted(groups.items())}

    async def _deliver(
        self,
        incident: Incident,
        reason: Reason,
        users: list[Recipient],
        now: dt.datetime,
        failures: dict[str, str],
    ) -> list[str]:
        """Send to every channel that has not failed in this run yet (a dead server costs one
        timeout per run, not one per incident); returns the channels that delivered and adds
        the reasons of those that failed to `failures`. E-mail is left out, neither sent nor
        failed, while every user who wants it is in their quiet hours."""
        attempts: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        smtp = self.config.smtp
        if smtp is not None:
            groups = self._addresses(users, now)
            if groups or not users:  # no address at all is a configuration problem
                attempts.append(
                    (EMAIL_CHANNEL, functools.partial(self._email, incident, reason, smtp, groups))
                )
        site_note = self._note(incident, reason, self.config.language)
        for number, hook in enumerate(self.config.webhooks, start=1):
            attempts.append((f"webhook-{number}", functools.partial(post_webhook, site_note, hook)))
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

    async def _catch_up(
        self,
        incident: Incident,
        last: SentNotification | None,
        users: list[Recipient],
        now: dt.datetime,
        failures: dict[str, str],
    ) -> list[str]:
        """Send the incident to the users whose own quiet hours kept its last notification from
        them and have ended, once each (logged as `quiet_end`); returns their addresses."""
        smtp = self.config.smtp
        if smtp is None or last is None or EMAIL_CHANNEL in failures:
            return []
        held = [u for u in users if held_by_quiet_hours(u.quiet_hours, last, now, self.tz)]
        if not held or not may_send(incident, now, self.config, self.tz):
            return []
        key = incident_key(incident)
        done = await asyncio.to_thread(
            addresses_caught_up, self.store, self.site_id, key, last.sent_at
        )
        groups: dict[str, set[str]] = {}
        for user in held:
            if user.email not in done:
                groups.setdefault(user.language or self.config.language, set()).add(user.email)
        if not groups:
            return []
        try:
            await self._email(
                incident,
                Reason.QUIET_END,
                smtp,
                {language: sorted(group) for language, group in sorted(groups.items())},
            )
        except ChannelError as exc:
            failures[EMAIL_CHANNEL] = str(exc)
            log.error("notification not sent via %s: %s", EMAIL_CHANNEL, exc)
            return []
        addresses = sorted(set().union(*groups.values()))
        await asyncio.to_thread(
            record_sent,
            self.store,
            self.site_id,
            key,
            incident.alarm_ids,
            incident.severity,
            Reason.QUIET_END.value,
            now,
            [f"{EMAIL_PREFIX}{address}" for address in addresses],
        )
        return addresses

    async def _email(
        self,
        incident: Incident,
        reason: Reason,
        smtp: SmtpConfig,
        groups: dict[str, list[str]],
    ) -> None:
        """One e-mail per language (none at all raises the channel's 'no recipients')."""
        if not groups:
            await asyncio.to_thread(
                send_email, self._note(incident, reason, self.config.language), smtp, []
            )
        for language, addresses in groups.items():
            note = self._note(incident, reason, language)
            await asyncio.to_thread(send_email, note, smtp, addresses)

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
                    alarm_text("notify.failed", channel=channel, failure=failures[channel][:1900]),
                    now,
                )
            elif channel in delivered:
                clear_alarm(self.store, self.site_id, FAILURE_CODE, source, now)
