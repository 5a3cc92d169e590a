"""The MQTT publisher against a real Mosquitto: acknowledged delivery, the outbox bridging a
broker outage without loss within its bound, the Last Will, and the queue bound itself."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.mqtt_adapter import MqttConnection
from energy.datahub.mqtt_messages import decode_payload, encode_payload
from energy.datahub.mqtt_publisher import MqttPublisher, mqtt_settings
from energy.datahub.outbox import Outbox
from energy.datahub.records import Record
from energy.publication_config import MqttTargetConfig, PublicationKind
from energy.site import Site
from tests.energy.datahub.broker_support import Broker, Recorder, wait_until
from tests.energy.datahub.conftest import CONSENTING, NOW, WITHHELD

PREFIX = "kvtest"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    instance = Broker(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()


def _publisher(site: Site, broker: Broker, tmp_path: Path, bound: int = 1000) -> MqttPublisher:
    config = MqttTargetConfig(enabled=True, port=broker.port, topic_prefix=PREFIX)
    outbox = Outbox(tmp_path / "outbox.sqlite", bound)
    connection = MqttConnection(mqtt_settings(site, config, NOW))
    return MqttPublisher(site, config, outbox, connection)


def _minute(i: int) -> list[Record]:
    start = NOW + dt.timedelta(minutes=i)
    return [
        Record(
            PublicationKind.MEASUREMENTS,
            None,
            start,
            {"grid_power_kw": float(i)},
            end=start + dt.timedelta(minutes=1),
        ),
        Record(PublicationKind.MEASUREMENTS, CONSENTING, start, {"meter_power_kw": 1.0}),
        Record(PublicationKind.MEASUREMENTS, WITHHELD, start, {"meter_power_kw": 1.0}),
    ]


def test_outbox_bridges_a_broker_outage_without_loss(
    hub_site: Site, broker: Broker, tmp_path: Path
) -> None:
    recorder = Recorder(broker.port, f"{PREFIX}/#")
    publisher = _publisher(hub_site, broker, tmp_path)
    publisher.connection.start()
    try:
        wait_until(lambda: publisher.connection.connected, what="publisher connected")
        wait_until(lambda: recorder.on("/status"), what="the retained online status")
        for i in range(5):
            publisher.enqueue(_minute(i))
        assert publisher.drain().remaining == 0
        broker.stop()
        wait_until(lambda: not publisher.connection.connected, what="the publisher noticing")
        for i in range(5, 40):  # the outage: 70 messages wait on disk
            publisher.enqueue(_minute(i))
            publisher.drain()
        assert len(publisher.outbox) == 70
        broker.start()
        wait_until(lambda: publisher.connection.connected, what="publisher reconnected")
        wait_until(lambda: publisher.drain().remaining == 0, what="the outbox drained")
        wait_until(lambda: len(recorder.seqs()) >= 80, what="all 80 messages at the subscriber")
    finally:
        publisher.stop(NOW)
        recorder.close()
    assert recorder.seqs() == set(range(1, 81))  # none lost, in one unbroken sequence
    houses = {p["subject"] for p in recorder.on("/measurements")}
    assert houses == {"district", CONSENTING}
    assert not any(WITHHELD in topic for topic, _, _ in recorder.messages)
    status = recorder.on("/status")
    assert status[0]["state"] == "online"


def test_the_last_will_marks_the_platform_offline(
    hub_site: Site, broker: Broker, tmp_path: Path
) -> None:
    """A publisher process killed without a clean disconnect: the broker publishes the will."""
    script = tmp_path / "publisher.py"
    script.write_text(
        "import sys, time, datetime as dt\n"
        "from connectors.mqtt_adapter import MqttConnection\n"
        "from energy.datahub.mqtt_publisher import mqtt_settings\n"
        "from energy.publication_config import MqttTargetConfig\n"
        "from energy.site import load_site\n"
        f"config = MqttTargetConfig(enabled=True, port={broker.port}, topic_prefix='{PREFIX}', keepalive_s=5)\n"
        "c = MqttConnection(mqtt_settings(load_site(), config, dt.datetime.now(dt.UTC)))\n"
        "c.start(); c.wait_connected(10); print('up', flush=True); time.sleep(60)\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]
    )
    recorder = Recorder(broker.port, f"{PREFIX}/+/status", client_id="will-watcher")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"up"
        wait_until(
            lambda: any(p["state"] == "online" for p in recorder.on("/status")), what="online"
        )
        process.kill()  # no DISCONNECT: the broker notices the dead connection and sends the will
        wait_until(lambda: recorder.on("/status")[-1]["state"] == "offline", 30, "the will")
    finally:
        process.kill()
        process.wait()
        recorder.close()


def test_a_full_outbox_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_messages=10)
    box.put([("t", {"n": i}, 1, False) for i in range(25)])
    assert len(box) == 10
    assert box.dropped_total == 15
    assert [m.seq for m in box.peek(100)] == list(range(16, 26))
    box.close()
    again = Outbox(tmp_path / "o.sqlite", max_messages=10)  # survives a restart
    assert len(again) == 10
    assert again.put([("t", {}, 1, False)]) == [26]
    again.close()


_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
_values = st.dictionaries(
    st.sampled_from(["grid_power_kw", "pv_energy_kwh", "storage_soc_frac", "co2_kg"]),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)


@given(_times, _values, st.sampled_from(list(PublicationKind)), st.sampled_from([None, "house-02"]))
def test_property_payloads_decode_to_the_record(
    time: dt.datetime, values: dict[str, float | None], kind: PublicationKind, house: str | None
) -> None:
    record = Record(kind, house, time, values, end=time + dt.timedelta(minutes=1))
    site_id, decoded, seq = decode_payload(json.dumps({**encode_payload(record, "s"), "seq": 3}))
    assert (site_id, decoded, seq) == ("s", record, 3)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"site": "s"}', "lacks"),
        (
            b'{"site":"s","subject":"district","kind":"kpis","time":"2026-01-01T00:00:00Z","values":{"co2_kg":{"value":1,"unit":"t"}}}',
            "unit",
        ),
    ],
)
def test_bad_payloads_are_named(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_payload(payload)
