"""Telling systemd how the platform is doing (the sd_notify protocol), without a dependency.

Under a unit with `Type=notify` systemd passes NOTIFY_SOCKET, a Unix datagram socket; `kv run`
sends READY=1 once the control loop and the web interface are up, STOPPING=1 when it begins to
release the devices, and, with `WatchdogSec=` (WATCHDOG_USEC), WATCHDOG=1 at half that interval
from the event loop that also runs the control loop's jobs: when that loop hangs, the pings stop
and systemd restarts the service (deploy/klimaviertel.service). Outside systemd every call does
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["ServiceNotifier", "watchdog_pings"]

log = logging.getLogger(__name__)


class ServiceNotifier:
    """Sends sd_notify messages to systemd's socket (none: a no-op)."""

    def __init__(self, socket_path: str | None, watchdog_interval_s: float | None = None):
        self.socket_path = socket_path
        #: seconds between two watchdog pings (half of WatchdogSec), None: no watchdog
        self.watchdog_interval_s = watchdog_interval_s

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> ServiceNotifier:
        """From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (a watchdog meant for another
        process is ignored)."""
        env = os.environ if env is None else env
        interval = None
        usec = env.get("WATCHDOG_USEC", "")
        meant_for_us = env.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid())
        if usec.isdigit() and int(usec) > 0 and meant_for_us:
            interval = int(usec) / 1e6 / 2
        return cls(env.get("NOTIFY_SOCKET") or None, interval)

    def notify(self, message: str) -> bool:
        """Send one message; False when not under systemd or the socket is gone."""
        if not self.socket_path:
            return False
        address = self.socket_path
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), address)
        except OSError as exc:
            log.warning("sd_notify %s to %s failed: %s", message, self.socket_path, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(f"READY=1\nSTATUS={status}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


async def watchdog_pings(notifier: ServiceNotifier, stop: asyncio.Event) -> None:
    """Send WATCHDOG=1 every `watchdog_interval_s` until `stop` is set (no watchdog: return)."""
    interval = notifier.watchdog_interval_s
    if interval is None:
        return
    while not stop.is_set():
        notifier.notify("WATCHDOG=1")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
