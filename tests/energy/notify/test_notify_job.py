"""The notification job end to end: a local SMTP server (aiosmtpd) and a local webhook server
receive exactly one message per incident, nothing again after a restart, a repeat after the
interval; failing channels raise one alarm each and never stop the job."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from energy.notification_config import NotificationsConfig, SmtpConfig
from energy.notify.channels import ChannelError, send_email
from energy.notify.job import FAILURE_CODE, Notifier
from energy.notify.message import Notification
from energy.site import Site
from energy.store.alarms import Severity, acknowledge_alarm, list_alarms, raise_alarm
from energy.store.engine import Store
from energy.store.preferences import UserPreferences, set_preferences
from energy.store.users import Role, create_user
from tests.ports import free_port

TZ = ZoneInfo("Europe/Berlin")
T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
PASSWORD = "smtp-secret"
TLS_DATA = Path(__file__).parent / "data"


def _parse(content: bytes | None) -> EmailMessage:
    message = message_from_bytes(content or b"", policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class _Mailbox:
    """aiosmtpd handler keeping every message with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.messages.append((list(envelope.rcpt_tos), _parse(envelope.original_content)))
        return "250 OK"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"leitstand", PASSWORD.encode())
    return AuthResult(success=ok)


@contextlib.contextmanager
def _smtp_server(tls: ssl.SSLContext | None) -> Iterator[tuple[_Mailbox, int]]:
    """A local SMTP server with login; with `tls`, STARTTLS is required before anything."""
    handler = _Mailbox()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=tls is not None,
        tls_context=tls,
        require_starttls=tls is not None,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    with _smtp_server(None) as served:
        yield served


class _Webhook:
    """A local HTTP server taking JSON POSTs, answering `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.status = 200
        #: every POST, answered with any status
        self.posts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts += 1
                if hook.status == 200:
                    hook.received.append((json.loads(body), self.headers["Authorization"]))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    server = _Webhook()
    try:
        yield server
    finally:
        server.stop()


def _config(smtp_port: int, webhook_url: str) -> NotificationsConfig:
    return NotificationsConfig.model_validate(
        {
            "console_url": "https://leitstand.example.de",
            "repeat_after_min": 60,
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "sender": "leitstand@example.de",
                "recipients": ["bereitschaft@example.de"],
                "timeout_s": 5,
            },
            "webhooks": [{"url": webhook_url, "timeout_s": 5}],
        }
    )


def _raise_incidents(store: Store, site: Site, now: dt.datetime) -> None:
    for house in ("house-01", "house-02"):
        for _ in range(2):
            raise_alarm(
                store, site.id, "stale_input", f"{house}.battery", Severity.CRITICAL, "stale", now
            )
    raise_alarm(store, site.id, "store_unavailable", "ctrl-1", Severity.CRITICAL, "down", now)
    raise_alarm(store, site.id, "weather_fallback", "weather", Severity.WARNING, "climatology", now)


def _subjects(box: _Mailbox) -> list[str]:
    return sorted(str(message["Subject"]) for _, message in box.messages)


def test_one_message_per_incident_none_after_a_restart_and_a_repeat_after_the_interval(
    sqlite_store: Store,
    site: Site,
    mailbox: tuple[_Mailbox, int],
    webhook: _Webhook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KV_WEBHOOK_TOKEN", "hook-token")
    box, port = mailbox
    create_user(sqlite_store, "olga", "lange-passphrase", Role.OPERATOR, "test", T0)
    set_preferences(
        sqlite_store, "olga", UserPreferences(email="olga@example.de", notify=True), "test", T0
    )
    create_user(sqlite_store, "udo", "lange-passphrase", Role.OPERATOR, "test", T0)
    set_preferences(sqlite_store, "udo", UserPreferences(email="udo@example.de"), "test", T0)
    _raise_incidents(sqlite_store, site, T0)
    config = _config(port, webhook.url)

    def notifier() -> Notifier:
        return Notifier(sqlite_store, site.id, "Klimaviertel", config, TZ)

    first = notifier()
    summary = asyncio.run(first.run(T0))
    assert summary == "2 incident(s) notified of 3 open"
    assert _subjects(box) == [
        "[Klimaviertel] Kritisch: Datenbank nicht erreichbar (1 Gerät(e))",
        "[Klimaviertel] Kritisch: Messwerte veraltet (2 Gerät(e))",
    ]
    assert {tuple(rcpt) for rcpt, _ in box.messages} == {
        ("bereitschaft@example.de", "olga@example.de")
    }
    stale = next(m for _, m in box.messages if "Messwerte" in str(m["Subject"]))
    body = stale.get_content()
    assert "Geräte (2): house-01.battery, house-02.battery" in body
    assert "Anzahl Meldungen: 4" in body
    assert sorted(p["codes"][0] for p, _ in webhook.received) == [
        "stale_input",
        "store_unavailable",
    ]
    assert {auth for _, auth in webhook.received} == {"Bearer hook-token"}

    asyncio.run(first.run(T0 + dt.timedelta(minutes=1)))
    asyncio.run(notifier().run(T0 + dt.timedelta(minutes=2)))  # a restarted control loop
    assert (len(box.messages), len(webhook.received)) == (2, 2)

    store_alarm = next(
        a for a in list_alarms(sqlite_store, site.id) if a["code"] == "store_unavailable"
    )
    acknowledge_alarm(sqlite_store, store_alarm["id"], "olga", T0 + dt.timedelta(minutes=3))
    asyncio.run(notifier().run(T0 + dt.timedelta(minutes=59)))
    assert len(box.messages) == 2
    asyncio.run(notifier().run(T0 + dt.timedelta(minutes=60)))
    assert len(box.messages) == 3
    repeat = box.messages[-1][1]
    assert "Messwerte veraltet" in str(repeat["Subject"])
    assert repeat.get_content().startswith("Weiterhin nicht quittiert")
    assert [p["reason"] for p, _ in webhook.received][-1] == "repeat"
    assert len(webhook.received) == 3


def test_failing_channels_raise_one_alarm_each_and_the_incident_waits_for_a_channel(
    sqlite_store: Store, site: Site, webhook: _Webhook
) -> None:
    raise_alarm(sqlite_store, site.id, "stale_input", "house-01.pv", Severity.CRITICAL, "s", T0)
    raise_alarm(sqlite_store, site.id, "write_failed", "house-02.hp", Severity.CRITICAL, "w", T0)
    webhook.status = 500
    notifier = Notifier(sqlite_store, site.id, "KV", _config(free_port(), webhook.url), TZ)
    for minute in range(3):
        summary = asyncio.run(notifier.run(T0 + dt.timedelta(minutes=minute)))
        assert summary.startswith("0 incident(s) notified")
        assert summary.endswith("failed: email, webhook-1")
        assert webhook.posts == minute + 1  # a failed channel is not tried again in one run
    failures = [a for a in list_alarms(sqlite_store, site.id) if a["code"] == FAILURE_CODE]
    assert sorted((a["source"], a["occurrences"]) for a in failures) == [
        ("notify.email", 3),
        ("notify.webhook-1", 3),
    ]
    messages = {a["source"]: a["message"] for a in failures}
    assert "HTTP 500" in messages["notify.webhook-1"]
    assert "ConnectionRefusedError" in messages["notify.email"]

    webhook.status = 200
    asyncio.run(notifier.run(T0 + dt.timedelta(minutes=4)))
    assert sorted(p["devices"] for p, _ in webhook.received) == [["house-01.pv"], ["house-02.hp"]]
    still_open = [
        a["source"] for a in list_alarms(sqlite_store, site.id) if a["code"] == FAILURE_CODE
    ]
    assert still_open == ["notify.email"]
    asyncio.run(notifier.run(T0 + dt.timedelta(minutes=5)))
    assert len(webhook.received) == 2


def test_starttls_with_login_against_an_in_house_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KV_SMTP_PASSWORD", PASSWORD)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(TLS_DATA / "server.pem", TLS_DATA / "server.key")
    note = Notification(subject="Prüfung", body="Testnachricht\n", payload={})
    with _smtp_server(server_tls) as (box, port):
        smtp = {
            "host": "127.0.0.1",
            "port": port,
            "security": "starttls",
            "username": "leitstand",
            "sender": "leitstand@example.de",
            "timeout_s": 5,
        }
        send_email(
            note,
            SmtpConfig.model_validate(smtp | {"ca_file": str(TLS_DATA / "ca.pem")}),
            ["olga@example.de"],
        )
        assert [(rcpt, str(m["Subject"])) for rcpt, m in box.messages] == [
            (["olga@example.de"], "Prüfung")
        ]
        with pytest.raises(ChannelError, match="CERTIFICATE_VERIFY_FAILED"):
            send_email(note, SmtpConfig.model_validate(smtp), ["olga@example.de"])
    assert len(box.messages) == 1


def _prefer(store: Store, name: str, **preferences: Any) -> None:
    create_user(store, name, "lange-passphrase", Role.OPERATOR, "test", T0)
    set_preferences(store, name, UserPreferences(notify=True, **preferences), name, T0)


def test_each_user_gets_their_own_language_and_nothing_in_their_own_quiet_hours(
    sqlite_store: Store, site: Site, mailbox: tuple[_Mailbox, int], webhook: _Webhook
) -> None:
    """At 11:00 local time: olga (English) is sent the incident in English, erika (quiet
    09:00-12:00) nothing, the site's on-call address its German text."""
    box, port = mailbox
    _prefer(sqlite_store, "olga", email="olga@example.de", language="en")
    _prefer(
        sqlite_store,
        "erika",
        email="erika@example.de",
        quiet_start=dt.time(9, 0),
        quiet_end=dt.time(12, 0),
    )
    raise_alarm(sqlite_store, site.id, "store_unavailable", "ctrl-1", Severity.CRITICAL, "d", T0)
    notifier = Notifier(sqlite_store, site.id, "KV", _config(port, webhook.url), TZ)
    assert asyncio.run(notifier.run(T0)) == "1 incident(s) notified of 1 open"
    by_recipients = {tuple(rcpt): str(message["Subject"]) for rcpt, message in box.messages}
    assert by_recipients == {
        ("olga@example.de",): "[KV] Critical: store unavailable (1 device(s))",
        ("bereitschaft@example.de",): "[KV] Kritisch: Datenbank nicht erreichbar (1 Gerät(e))",
    }


def test_while_every_user_is_in_quiet_hours_the_mail_waits_and_is_no_failure(
    sqlite_store: Store, site: Site, mailbox: tuple[_Mailbox, int]
) -> None:
    box, port = mailbox
    _prefer(
        sqlite_store,
        "erika",
        email="erika@example.de",
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(11, 30),  # over midnight; 11:00 local is inside
    )
    raw = _config(port, "http://127.0.0.1:9/unused").model_dump()
    raw["webhooks"] = []
    raw["smtp"]["recipients"] = []
    config = NotificationsConfig.model_validate(raw)
    raise_alarm(sqlite_store, site.id, "store_unavailable", "ctrl-1", Severity.CRITICAL, "d", T0)
    notifier = Notifier(sqlite_store, site.id, "KV", config, TZ)
    assert asyncio.run(notifier.run(T0)) == "0 incident(s) notified of 1 open"
    assert box.messages == []
    assert [a for a in list_alarms(sqlite_store, site.id) if a["code"] == FAILURE_CODE] == []
    asyncio.run(notifier.run(T0 + dt.timedelta(minutes=30)))  # 11:30 local: quiet hours over
    assert [tuple(rcpt) for rcpt, _ in box.messages] == [("erika@example.de",)]


def test_a_user_in_quiet_hours_is_sent_the_open_incident_once_when_they_end(
    sqlite_store: Store, site: Site, mailbox: tuple[_Mailbox, int], webhook: _Webhook
) -> None:
    """At 11:00 local the on-call address gets the incident, erika (quiet until 11:30) not; at
    11:30 she is sent it alone, in her language, once; the site's repeat still counts from
    11:00; an incident acknowledged before her quiet hours end is not sent to her."""
    box, port = mailbox
    _prefer(
        sqlite_store,
        "erika",
        email="erika@example.de",
        language="en",
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(11, 30),
    )
    raise_alarm(sqlite_store, site.id, "store_unavailable", "ctrl-1", Severity.CRITICAL, "d", T0)
    raise_alarm(
        sqlite_store, site.id, "stale_input", "house-01.battery", Severity.CRITICAL, "s", T0
    )
    notifier = Notifier(sqlite_store, site.id, "KV", _config(port, webhook.url), TZ)
    assert asyncio.run(notifier.run(T0)) == "2 incident(s) notified of 2 open"
    assert {tuple(rcpt) for rcpt, _ in box.messages} == {("bereitschaft@example.de",)}
    stale = next(a for a in list_alarms(sqlite_store, site.id) if a["code"] == "stale_input")
    acknowledge_alarm(sqlite_store, stale["id"], "olga", T0 + dt.timedelta(minutes=10))
    box.messages.clear()

    assert asyncio.run(notifier.run(T0 + dt.timedelta(minutes=20))) == (
        "0 incident(s) notified of 2 open"  # 11:20 local: still quiet
    )
    end = T0 + dt.timedelta(minutes=30)
    assert asyncio.run(notifier.run(end)) == (
        "0 incident(s) notified of 2 open; 1 e-mail(s) held by quiet hours sent"
    )
    assert [(tuple(rcpt), str(m["Subject"])) for rcpt, m in box.messages] == [
        (("erika@example.de",), "[KV] Critical: store unavailable (1 device(s))")
    ]
    assert "held during your quiet hours: KV" in box.messages[0][1].get_content()
    assert asyncio.run(notifier.run(end + dt.timedelta(minutes=5))) == (
        "0 incident(s) notified of 2 open"
    )
    box.messages.clear()
    asyncio.run(notifier.run(T0 + dt.timedelta(minutes=60)))  # the repeat, from 11:00
    assert {tuple(rcpt) for rcpt, _ in box.messages} == {  # of the unacknowledged one
        ("bereitschaft@example.de",),
        ("erika@example.de",),
    }
