"""The MQTT job's collection on the site clock: minute windows (or polls) without gaps, KPIs
after a finished slot, each plan version once, and nothing of a house without consent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from connectors.mqtt_adapter import MqttConnection, MqttSettings
from energy.datahub.mqtt_job import MqttJob
from energy.datahub.outbox import Outbox
from energy.publication_config import MqttTargetConfig, PublicationKind
from energy.site import Site
from energy.store import Store
from energy.store.plans import activate_plan, decide_plan
from energy.store.publication import publication_status
from tests.energy.datahub.conftest import CONSENTING, NOW
from tests.energy.web.web_support import make_plan

LAG = dt.timedelta(seconds=10)


def _job(
    site: Site, store: Store, tmp_path: Path, every: Literal["poll", "minute"] = "minute"
) -> MqttJob:
    config = MqttTargetConfig(enabled=True, port=1, measurements_every=every)
    never = MqttConnection(MqttSettings("127.0.0.1", 1, "kv-test"))  # not started: offline
    outbox = Outbox(tmp_path / "outbox.sqlite", 1000)
    return MqttJob(site, store, config, LAG, NOW, outbox=outbox, connection=never)


def test_minute_windows_follow_each_other_without_gaps(
    hub_site: Site, hub_store: Store, tmp_path: Path
) -> None:
    job = _job(hub_site, hub_store, tmp_path)
    first = job.collect(NOW - dt.timedelta(minutes=10))
    later = job.collect(NOW - dt.timedelta(minutes=6, seconds=30))
    district = [
        r for r in first + later if r.kind is PublicationKind.MEASUREMENTS and r.house_id is None
    ]
    starts = [r.time for r in district]
    # now - lag floored to the minute ends the windows: 09:49 first (one window), then 09:53
    assert starts == [NOW - dt.timedelta(minutes=m) for m in (12, 11, 10, 9, 8)]
    assert all(r.end == r.time + dt.timedelta(minutes=1) for r in district)


def test_poll_mode_publishes_every_run(hub_site: Site, hub_store: Store, tmp_path: Path) -> None:
    job = _job(hub_site, hub_store, tmp_path, every="poll")
    assert job.interval_s == 0.0
    job.collect(NOW - dt.timedelta(minutes=5))
    (record,) = [
        r
        for r in job.collect(NOW - dt.timedelta(minutes=4, seconds=30))
        if r.kind is PublicationKind.MEASUREMENTS and r.house_id is None
    ]
    assert record.end - record.time == dt.timedelta(seconds=30)


def test_kpis_after_a_finished_slot_and_each_plan_once(
    hub_site: Site, hub_store: Store, tmp_path: Path
) -> None:
    job = _job(hub_site, hub_store, tmp_path)
    plan = make_plan(hub_site, hub_store, NOW - dt.timedelta(minutes=15))
    decide_plan(hub_store, plan.id, True, "operator", NOW - dt.timedelta(minutes=20))
    activate_plan(hub_store, plan.id, NOW - dt.timedelta(minutes=20))
    records = job.collect(NOW)
    kinds = [r.kind for r in records]
    assert PublicationKind.KPIS in kinds
    assert kinds.count(PublicationKind.PLAN) == 1
    assert PublicationKind.PLAN not in [r.kind for r in job.collect(NOW + dt.timedelta(minutes=1))]


def test_run_queues_only_publishable_messages_and_records_the_outage(
    hub_site: Site, hub_store: Store, tmp_path: Path
) -> None:
    job = _job(hub_site, hub_store, tmp_path)
    detail = job.run(NOW)
    assert "not connected" in detail
    topics = [m.topic for m in job.outbox.peek(1000)]
    assert any(t.endswith(f"/houses/{CONSENTING}/measurements") for t in topics)
    assert {t.split("/")[3] for t in topics if "/houses/" in t} == {CONSENTING}
    (row,) = publication_status(hub_store, hub_site.id)
    assert row["queue_length"] == len(topics)
    assert row["failing_since"] == NOW
