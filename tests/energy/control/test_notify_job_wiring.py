"""The control loop's `notify` job: scheduled only with a notifications section, run only by the
lease holder, and a failing channel is a job that succeeded with an alarm, not a failed job."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

from energy.control.clock import ManualClock
from energy.control.runtime import ControlRuntime
from energy.notification_config import NotificationsConfig
from energy.site import Site
from energy.store import Store
from energy.store.alarms import Severity, list_alarms, raise_alarm

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
UNREACHABLE = NotificationsConfig.model_validate(
    {"console_url": "http://kv.example", "webhooks": [{"url": "http://127.0.0.1:9/hook"}]}
)


def _with_notifications(site: Site) -> Site:
    config = site.config.model_copy(update={"notifications": UNREACHABLE})
    return dataclasses.replace(site, config=config)


def test_only_a_site_with_notifications_schedules_the_job(sqlite_store: Store, site: Site) -> None:
    plain = ControlRuntime(site, sqlite_store, clock=ManualClock(NOW), instance="a")
    assert plain._triggers()["notify"] == []
    notifying = ControlRuntime(
        _with_notifications(site), sqlite_store, clock=ManualClock(NOW), instance="b"
    )
    assert len(notifying._triggers()["notify"]) == 1


def test_a_failing_channel_leaves_the_job_ok_with_one_alarm(
    sqlite_store: Store, site: Site
) -> None:
    raise_alarm(sqlite_store, site.id, "stale_input", "house-01.pv", Severity.CRITICAL, "s", NOW)
    rt = ControlRuntime(_with_notifications(site), sqlite_store, clock=ManualClock(NOW))

    async def scenario() -> list[str]:
        standby = await rt.notify_job()
        await rt.lease_job()
        outcomes = [standby.outcome, (await rt.notify_job()).outcome]
        await rt.poller.close()
        return outcomes

    assert asyncio.run(scenario()) == ["skipped", "ok"]
    codes = sorted(a["code"] for a in list_alarms(sqlite_store, site.id))
    assert codes == ["notification_failed", "stale_input"]
