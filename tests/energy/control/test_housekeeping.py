"""Housekeeping: plans past their horizon expire; old measurements, write records and job runs
are deleted after retention_days, stored weather forecasts after weather.retention_days; the
audit log is kept."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pandas as pd
from sqlalchemy import func, select

from energy.control.clock import ManualClock
from energy.control.runtime import ControlRuntime
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.forecasts import write_forecasts
from energy.store.plans import PlanState, get_plan, save_plan
from energy.store.schema import audit_log, forecasts, measurements, setpoint_writes
from energy.store.setpoints import SetpointWriteRecord, record_setpoint_write
from energy.store.types import to_utc_datetime
from energy.store.weather import write_weather_forecast

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_housekeeping_expires_plans_and_applies_retention(
    store: Store, site: Site, measure: Callable[..., None]
) -> None:
    days = site.config.control.retention_days
    old = NOW - dt.timedelta(days=days + 1)
    measure(old)
    measure(NOW - dt.timedelta(minutes=1))
    record_setpoint_write(
        store,
        SetpointWriteRecord(
            old,
            site.id,
            "house-01.battery",
            "power_setpoint_w",
            1.0,
            1.0,
            1.0,
            1.0,
            "ok",
            "",
            "system:dispatch:x",
        ),
    )
    slots = pd.date_range(NOW - dt.timedelta(hours=3), periods=4, freq="15min")
    plan = save_plan(
        store,
        site.id,
        pd.DataFrame(
            {
                "asset_id": ["grid"] * 4,
                "quantity": ["import_kw"] * 4,
                "slot_start": slots,
                "value": [1.0] * 4,
            }
        ),
        created_at=slots[0].to_pydatetime(),
        horizon_start=slots[0].to_pydatetime(),
        horizon_end=(slots[-1] + pd.Timedelta("15min")).to_pydatetime(),
        slot_minutes=15,
        solver_status="optimal",
    )
    audit_before = _count(store, audit_log)
    writes_before = _count(store, setpoint_writes)
    fresh = _count(store, measurements) // 2
    rt = ControlRuntime(site, store, clock=ManualClock(NOW), instance="hk")

    async def scenario() -> str:
        await rt.lease_job()
        outcome = await rt.housekeeping_job()
        await rt.poller.close()
        return outcome.detail

    detail = asyncio.run(scenario())
    assert f"expired plans [{plan.id}]" in detail
    assert get_plan(store, plan.id).state is PlanState.EXPIRED
    assert _count(store, measurements) == fresh  # only the old ones went
    assert "setpoint_writes" not in detail
    assert _count(store, setpoint_writes) == writes_before  # the write log is kept, like the audit
    assert _count(store, audit_log) > audit_before  # append-only: nothing deleted
    assert [e for e in read_audit(store) if e["action"] == "plan.expire"]


def test_housekeeping_prunes_stored_weather_forecasts_past_their_retention(
    store: Store, site: Site
) -> None:
    days = site.config.weather.retention_days
    grid = pd.date_range(NOW, periods=4, freq="15min")
    frame = pd.DataFrame({"temp_outdoor_c": [1.0, 2.0, 3.0, 4.0]}, index=grid)
    old_issue = NOW - dt.timedelta(days=days, minutes=1)
    kept_issue = NOW - dt.timedelta(days=days - 1)
    write_weather_forecast(store, site.id, "bright-sky", old_issue, frame)
    write_weather_forecast(store, site.id, "bright-sky", kept_issue, frame)
    write_weather_forecast(store, "another-site", "bright-sky", old_issue, frame)
    other_target = pd.DataFrame(
        {
            "target": ["house-01:load_kw"],
            "model_version": ["m"],
            "issue_time": [pd.Timestamp(old_issue)],
            "valid_time": [pd.Timestamp(NOW)],
            "quantile": [0.5],
            "value": [1.0],
        }
    )
    write_forecasts(store, other_target)
    rt = ControlRuntime(site, store, clock=ManualClock(NOW), instance="hk")

    async def scenario() -> str:
        await rt.lease_job()
        outcome = await rt.housekeeping_job()
        await rt.poller.close()
        return outcome.detail

    detail = asyncio.run(scenario())
    assert "weather forecasts issued before" in detail
    assert detail.endswith(": 4")
    with store.engine.connect() as conn:
        rows = conn.execute(select(forecasts.c.target, forecasts.c.issue_time)).all()
    issues = {(target.split(":")[0], to_utc_datetime(issue)) for target, issue in rows}
    assert (site.id, kept_issue) in issues
    assert (site.id, old_issue) not in issues
    assert ("another-site", old_issue) in issues  # another site's forecasts are its own
    assert ("house-01", old_issue) in issues  # demand forecasts are not weather
