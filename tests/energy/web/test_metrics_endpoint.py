"""/metrics: the Prometheus exposition of the store's figures and the control loop's job runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from prometheus_client import generate_latest

from energy.metrics import observe_job_run
from energy.quality import Quality
from energy.site import AssetKind
from energy.store import Store
from energy.store.alarms import Severity, raise_alarm
from energy.store.measurements import write_measurements
from energy.store.prices import write_prices
from energy.store.setpoints import SetpointWriteRecord, record_setpoint_write
from energy.store.users import Role
from energy.web import WebSettings
from energy.web.metrics import metrics_registry
from tests.energy.web.web_support import NOW, Web, scrape


def _write(web: Web, outcome: str, minutes_ago: float) -> None:
    record_setpoint_write(
        web.store,
        SetpointWriteRecord(
            time=NOW - dt.timedelta(minutes=minutes_ago),
            site_id=web.site.id,
            asset_id="house-01.battery",
            point="power_setpoint_kw",
            requested=2.0,
            clamped=2.0,
            written=2.0,
            read_back=2.0 if outcome == "ok" else None,
            outcome=outcome,
            detail="",
            actor="test",
        ),
    )


def test_metrics_need_a_token(web: Web) -> None:
    assert web.client.get("/metrics").status_code == 401


def test_metrics_report_the_stores_figures(web: Web) -> None:
    _write(web, "ok", 5)
    _write(web, "ok", 10)
    _write(web, "unconfirmed", 20)
    _write(web, "ok", 90)  # older than the hour: not counted
    raise_alarm(
        web.store, web.site.id, "device_down", "house-02.pv", Severity.CRITICAL, "no answer", NOW
    )
    issued = NOW - dt.timedelta(hours=3)
    slots = pd.date_range(NOW, periods=4, freq="15min")
    write_prices(web.store, "DE-LU", "test", issued, pd.Series(80.0, index=slots))
    fresh = NOW - dt.timedelta(seconds=2)
    write_measurements(
        web.store,
        web.site.id,
        pd.DataFrame(
            [
                ("house-01.battery", "soc_frac", fresh, 0.5, int(Quality.GOOD)),
                ("house-01.battery", "power_kw", fresh, 1.0, int(Quality.STALE)),
            ],
            columns=["asset_id", "quantity", "time", "value", "quality"],
        ),
    )
    observe_job_run("poll", "ok", 0.2)

    response = web.client.get("/metrics", headers=web.auth(Role.VIEWER))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = scrape(response.text)
    assert samples[("kv_store_up", ())] == 1.0
    assert samples[("kv_store_read_seconds", ())] > 0.0
    writes = "kv_setpoint_writes_last_hour"
    assert samples[(writes, (("confirmed", "true"), ("outcome", "ok")))] == 2.0
    assert samples[(writes, (("confirmed", "false"), ("outcome", "unconfirmed")))] == 1.0
    incidents = "kv_incidents_open"
    assert samples[(incidents, (("severity", "critical"), ("state", "active")))] == 1.0
    assert samples[(incidents, (("severity", "warning"), ("state", "active")))] == 0.0
    assert samples[("kv_feed_age_seconds", (("feed", "prices"),))] == 3 * 3600.0
    assert ("kv_feed_age_seconds", (("feed", "weather"),)) not in samples  # none stored
    assert samples[("kv_series", (("state", "fresh"),))] == 1.0
    assert samples[("kv_series", (("state", "stale"),))] == 1.0
    devices = sum(v for (name, _), v in samples.items() if name == "kv_devices")
    assert devices == len(list(web.site.devices()))
    # no device has a fresh value: each is down, or asleep (a PV inverter while the sun is down)
    assert samples[("kv_devices", (("state", "up"),))] == 0.0
    pv = sum(1 for asset in web.site.devices() if asset.kind is AssetKind.PV)
    asleep = samples[("kv_devices", (("state", "asleep"),))]
    assert asleep in (0.0, pv)
    assert samples[("kv_devices", (("state", "down"),))] == devices - asleep
    assert samples[("kv_job_duration_seconds_count", (("job", "poll"), ("outcome", "ok")))] >= 1


def test_metrics_say_when_the_store_does_not_answer(web: Web, tmp_path: Path) -> None:
    empty = Store.from_url(f"sqlite:///{tmp_path / 'not-migrated.sqlite'}")  # no tables
    registry = metrics_registry(web.site, empty, WebSettings(secret_key="x" * 40, clock=web.clock))
    assert scrape(generate_latest(registry).decode()) == {("kv_store_up", ()): 0.0}
    empty.dispose()
