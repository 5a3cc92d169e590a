"""How long the notification job takes for many incidents at once, against local servers.

    .venv/bin/python bench/notify_bench.py [--incidents 30]

A fresh SQLite store, the default site, N critical incidents of N different causes; a local SMTP
server (aiosmtpd, no TLS) and a local webhook server (http.server). Prints the wall time of the
first run (N e-mails and N webhook posts), of the next run (nothing due) and of a run with the
SMTP server gone (one connection refused per run, not per incident). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from energy.notification_config import NotificationsConfig
from energy.notify.job import Notifier
from energy.site import load_site
from energy.store.alarms import Severity, raise_alarm
from energy.store.engine import Store
from energy.store.sites import sync_site

NOW = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC)


class _Count:
    def __init__(self) -> None:
        self.mails = 0

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.mails += 1
        return "250 OK"


class _Hook(BaseHTTPRequestHandler):
    posts = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.posts += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _timed(notifier: Notifier, minute: int) -> tuple[float, str]:
    start = time.perf_counter()
    summary = asyncio.run(notifier.run(NOW + dt.timedelta(minutes=minute)))
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=30)
    args = parser.parse_args()
    site = load_site()
    store = Store.from_url(f"sqlite:///{Path(tempfile.mkdtemp()) / 'kv.sqlite'}")
    store.upgrade()
    sync_site(store, site)
    for n in range(args.incidents):
        raise_alarm(store, site.id, f"cause_{n}", f"device-{n}", Severity.CRITICAL, "x", NOW)
    mailbox, port = _Count(), _free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    web = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    config = NotificationsConfig.model_validate(
        {
            "console_url": "http://kv.example",
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "sender": "kv@example.de",
                "recipients": ["ops@example.de"],
            },
            "webhooks": [{"url": f"http://127.0.0.1:{web.server_address[1]}/"}],
        }
    )
    notifier = Notifier(store, site.id, "KV", config, site.tz)
    first, summary = _timed(notifier, 0)
    print(
        f"first run:  {first * 1000:7.0f} ms  {summary}; {mailbox.mails} e-mails, "
        f"{_Hook.posts} webhook posts"
    )
    second, summary = _timed(notifier, 1)
    print(f"next run:   {second * 1000:7.0f} ms  {summary}")
    smtp.stop()
    for n in range(args.incidents):
        raise_alarm(store, site.id, f"new_{n}", f"other-{n}", Severity.CRITICAL, "x", NOW)
    down, summary = _timed(notifier, 2)
    print(f"SMTP gone:  {down * 1000:7.0f} ms  {summary}")
    web.shutdown()


if __name__ == "__main__":
    main()
