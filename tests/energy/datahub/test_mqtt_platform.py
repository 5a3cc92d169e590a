"""The running platform (simulated district, accelerated clock) on a real Mosquitto: measurements,
plan and KPI messages on the documented topics; a broker restart loses nothing within the bound."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from energy.control.platform import PlatformOptions, run_platform
from energy.datahub.mqtt_job import outbox_path
from energy.site import Site
from energy.store import Store
from tests.energy.datahub.broker_support import Broker, Recorder, free_port, wait_until
from tests.energy.datahub.conftest import CONSENTING, with_consent

PREFIX = "herne"


def _outbox(path: Path) -> tuple[int, int]:
    """(messages waiting, highest seq) of the platform's outbox, read beside it."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        count, last = conn.execute("SELECT COUNT(*), MAX(seq) FROM messages").fetchone()
    return int(count), int(last or 0)


@pytest.mark.slow
def test_the_platform_publishes_and_survives_a_broker_restart(
    tmp_path: Path,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    monkeypatch.setenv("KV_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("KV_ADMIN_PASSWORD", "a-long-enough-secret")
    broker = Broker(tmp_path / "broker")
    broker.start()
    hub = with_consent(
        site,
        {CONSENTING: {"granted": True, "date": dt.date(2026, 1, 1)}},
        mqtt={
            "enabled": True,
            "port": broker.port,
            "topic_prefix": PREFIX,
            "queue_dir": str(tmp_path / "outbox"),
            "ack_timeout_s": 2.0,
        },
    )
    store = Store.from_url(f"sqlite:///{tmp_path / 'kv.sqlite'}")
    recorder = Recorder(broker.port, f"{PREFIX}/{hub.id}/#")
    lines: list[str] = []
    options = PlatformOptions(
        speed=120.0,
        start=dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC),
        port=free_port(),
        web=False,
        free_ports=True,
        status_every_s=5.0,
        echo=lines.append,
    )
    outbox_file = outbox_path(hub, hub.config.publication.mqtt)
    counted: dict[str, int] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_platform(hub, store, options, stop))

        async def until(
            condition: Callable[[], object], what: str, timeout_s: float = 120.0
        ) -> None:
            await asyncio.to_thread(wait_until, condition, timeout_s, what)

        try:
            await until(lambda: recorder.on("/district/measurements"), "district measurements")
            await until(lambda: recorder.on("/district/plan"), "the plan")
            await until(lambda: recorder.on("/district/kpis/day"), "today's KPIs")
            broker.stop()
            await until(lambda: _outbox(outbox_file)[0] >= 10, "messages waiting in the outbox")
            counted["waiting"], counted["last_seq"] = _outbox(outbox_file)
            broker.start()
            await until(
                lambda: counted["last_seq"] in recorder.seqs(), "the outage's messages delivered"
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)

    try:
        asyncio.run(scenario())
        wait_until(lambda: recorder.on("/status")[-1]["state"] == "offline", 10, "offline status")
    finally:
        recorder.close()
        broker.stop()
        store.dispose()
    seqs = recorder.seqs()
    for name, value in counted.items() | {("received", len(seqs)), ("max_seq", max(seqs))}:
        record_property(name, value)  # the counts, in the JUnit report (--junitxml)
    assert seqs >= set(range(min(seqs), counted["last_seq"] + 1)), "a message was lost"
    district = recorder.on("/district/measurements")[-1]
    assert district["values"]["grid_power_kw"]["unit"] == "kW"
    assert district["time"].endswith("Z")
    assert {"pv_power_kw", "storage_soc_frac", "consumption_power_kw"} <= set(district["values"])
    plan = recorder.on("/district/plan")[-1]
    assert len(plan["slots"]) == len(plan["series"]["planned_grid_power_kw"]["values"])
    assert recorder.on(f"/houses/{CONSENTING}/measurements")
    houses = {t.split("/")[3] for t, _, _ in recorder.messages if "/houses/" in t}
    assert houses == {CONSENTING}
    assert recorder.on("/district/kpis/day")[-1]["values"]["self_sufficiency_frac"]["unit"] == "1"
