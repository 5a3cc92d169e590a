"""sd_notify: READY, STOPPING and watchdog pings reach systemd's socket; nothing outside systemd."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy.control.systemd import ServiceNotifier, watchdog_pings


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_ready_and_stopping_reach_the_socket(notify_socket: socket.socket) -> None:
    notifier = ServiceNotifier.from_environment({"NOTIFY_SOCKET": notify_socket.getsockname()})
    assert notifier.ready("controlling klimaviertel-sodingen")
    assert notify_socket.recv(256) == b"READY=1\nSTATUS=controlling klimaviertel-sodingen"
    assert notifier.stopping()
    assert notify_socket.recv(256) == b"STOPPING=1"


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = ServiceNotifier.from_environment({})
    assert notifier.watchdog_interval_s is None
    assert not notifier.ready("x")


@pytest.mark.parametrize(
    ("env", "interval_s"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_sec(
    env: dict[str, str], interval_s: float | None
) -> None:
    assert ServiceNotifier.from_environment(env).watchdog_interval_s == interval_s


def test_watchdog_pings_until_stopped(notify_socket: socket.socket) -> None:
    notifier = ServiceNotifier(notify_socket.getsockname(), watchdog_interval_s=0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        pings = asyncio.create_task(watchdog_pings(notifier, stop))
        await asyncio.to_thread(notify_socket.recv, 64)  # at least two pings arrive
        await asyncio.to_thread(notify_socket.recv, 64)
        stop.set()
        await asyncio.wait_for(pings, 5)

    asyncio.run(scenario())
