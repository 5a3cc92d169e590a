"""Data-hub benchmark: the MQTT outbox on disk and delivery to a real Mosquitto (started on a free
port), and the records and entities of one publication cycle. Prints figures; asserts nothing.

    .venv/bin/python bench/datahub_bench.py [--messages 20000]

- outbox: put (in batches of 100), peek + remove (batches of 500), messages per second;
- delivery: messages per second from the outbox to the broker at QoS 1 (acknowledged, removed);
- bridging: a broker outage while N messages are queued; after the restart, the time until the
  outbox is empty.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from connectors.mqtt_adapter import MqttConnection
from energy.datahub.mqtt_publisher import MqttPublisher, mqtt_settings
from energy.datahub.outbox import Outbox
from energy.datahub.records import Record
from energy.publication_config import MqttTargetConfig, PublicationKind
from energy.site import load_site

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _broker(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n", encoding="utf-8")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    sys.exit("mosquitto did not start")


def _records(n: int) -> list[Record]:
    return [
        Record(
            PublicationKind.MEASUREMENTS,
            None,
            NOW + dt.timedelta(minutes=i),
            {"grid_power_kw": 1.0 * i, "pv_power_kw": 2.0, "storage_soc_frac": 0.5},
            end=NOW + dt.timedelta(minutes=i + 1),
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    n = args.messages
    site = load_site()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        box = Outbox(work / "bench.sqlite", max_messages=10 * n)
        payload = {"site": site.id, "values": {"grid_power_kw": {"value": 1.0, "unit": "kW"}}}
        started = time.perf_counter()
        for first in range(0, n, 100):
            box.put([("kv/site/district/measurements", payload, 1, False)] * min(100, n - first))
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        while batch := box.peek(500):
            box.remove([m.seq for m in batch])
        take_s = time.perf_counter() - started
        print(f"outbox: put {n / put_s:,.0f} msg/s, peek+remove {n / take_s:,.0f} msg/s")
        box.close()

        port = _port()
        broker = _broker(work, port)
        config = MqttTargetConfig(enabled=True, port=port, topic_prefix="bench", drain_batch=500)
        outbox = Outbox(work / "deliver.sqlite", max_messages=10 * n)
        connection = MqttConnection(mqtt_settings(site, config, NOW))
        publisher = MqttPublisher(site, config, outbox, connection)
        connection.start()
        connection.wait_connected(10)
        publisher.enqueue(_records(n))
        started = time.perf_counter()
        sent = 0
        while len(outbox):
            sent += publisher.drain().sent
        deliver_s = time.perf_counter() - started
        print(
            f"delivery QoS 1 to mosquitto: {sent} messages in {deliver_s:.2f} s = {sent / deliver_s:,.0f} msg/s"
        )

        broker.terminate()
        broker.wait()
        while connection.connected:
            time.sleep(0.05)
        publisher.enqueue(_records(n))
        print(
            f"broker down: {len(outbox)} messages waiting on disk ({(work / 'deliver.sqlite').stat().st_size / 1e6:.1f} MB file)"
        )
        broker = _broker(work, port)
        started = time.perf_counter()
        connection.wait_connected(30)
        while len(outbox):
            publisher.drain()
        print(
            f"after the restart: outbox empty {time.perf_counter() - started:.2f} s after the broker came back (reconnect backoff included)"
        )
        publisher.stop(NOW)
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    main()
