"""A real Mosquitto on a free port for the tests, and a subscriber that records what arrives.

The broker keeps its sessions on disk (persistence), so a subscriber with a persistent session
(clean_session false, QoS 1) receives what was published while it was away, also across a
restart of the broker: what the tests count is what the platform delivered.
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from tests.ports import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def wait_until(condition: Any, timeout_s: float = 30.0, what: str = "condition") -> None:
    """Poll `condition` until true; fail naming `what` after timeout_s (a deadline, not a
    timed assertion: nothing is asserted about how long it took)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


class Broker:
    """Mosquitto with its own config, port and persistence directory."""

    def __init__(self, workdir: Path, port: int | None = None, extra: str = "anonymous"):
        """`extra`: "anonymous", or mosquitto config lines for authentication and TLS."""
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        access = "allow_anonymous true\n" if extra == "anonymous" else extra
        self.config.write_text(
            # started as root, mosquitto drops to its own user, which cannot read our
            # temporary files; as another user this line has no effect
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\n"
            f"{access}"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            f"log_dest file {workdir / 'mosquitto.log'}\n",
            encoding="utf-8",
        )

    def start(self) -> None:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)])

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(listening, 15.0, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: mosquitto saves its sessions and exits
            self.process.wait(15)
            self.process = None


class Recorder:
    """A subscriber (paho directly: an independent peer, not our adapter) keeping every
    message by topic."""

    def __init__(self, port: int, topic: str, client_id: str = "test-recorder"):
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, json.loads(message.payload), message.retain))

    def on(self, suffix: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for t, p, _ in self.messages if t.endswith(suffix)]

    def seqs(self) -> set[int]:
        with self._lock:
            return {p["seq"] for _, p, _ in self.messages if "seq" in p}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
