"""Sending a notification: by e-mail over SMTP (STARTTLS, implicit TLS or plain; login when a user
name is configured, with the password from KV_SMTP_PASSWORD) and by webhook (HTTP POST of JSON,
with `Authorization: Bearer` from KV_WEBHOOK_TOKEN when set).

Both raise ChannelError with a one-line reason; the caller (energy.notify.job) decides what a
failure means. Secrets are read when sending, never stored or logged.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from energy.notification_config import (
    SMTP_PASSWORD_ENV,
    WEBHOOK_TOKEN_ENV,
    SmtpConfig,
    WebhookConfig,
)
from energy.notify.message import Notification

__all__ = ["ChannelError", "post_webhook", "send_email"]


class ChannelError(RuntimeError):
    """A notification could not be delivered to one channel."""


def _email(notification: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = notification.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(notification.body)
    return message


def send_email(notification: Notification, config: SmtpConfig, recipients: list[str]) -> None:
    """Send one e-mail to all recipients (blocking; run it in a thread)."""
    if not recipients:
        raise ChannelError("e-mail: no recipients (no user opted in, smtp.recipients empty)")
    password = os.environ.get(SMTP_PASSWORD_ENV)
    if config.username is not None and not password:
        raise ChannelError(f"e-mail: smtp.username is set but {SMTP_PASSWORD_ENV} is not")
    try:
        context = ssl.create_default_context(cafile=config.ca_file)
        client: smtplib.SMTP
        if config.security == "tls":
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
        with client:
            if config.security == "starttls":
                client.starttls(context=context)
            if config.username is not None and password:
                client.login(config.username, password)
            client.send_message(_email(notification, config.sender, recipients))
    except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
        raise ChannelError(
            f"e-mail via {config.host}:{config.port}: {type(exc).__name__}: {exc}"
        ) from exc


async def post_webhook(notification: Notification, config: WebhookConfig) -> None:
    """POST the notification's JSON; any status but 2xx is a failure."""
    headers = {"User-Agent": "klimaviertel-notify"}
    token = os.environ.get(WEBHOOK_TOKEN_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with httpx.AsyncClient(timeout=config.timeout_s) as client:
            response = await client.post(config.url, json=notification.payload, headers=headers)
    except httpx.HTTPError as exc:
        raise ChannelError(f"webhook {config.url}: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise ChannelError(f"webhook {config.url}: HTTP {response.status_code}")
