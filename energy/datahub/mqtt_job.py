"""The MQTT publication job of the running platform (registered by energy.control.runtime).

Every run, on the site clock, with `lag` = one poll interval so that the readings of a window
are stored before it is read:

1. measurements: each window [previous end, end) not yet published, where end is now - lag
   floored to the minute (`measurements_every: minute`) or now - lag (`poll`), as district
   aggregates, the district's outdoor temperature and the consenting houses' own values;
2. each finished slot's district rows are stored (energy.datahub.district) and, when a slot
   finished, today's KPIs so far are published;
3. a plan version not yet published (the active plan) and the forecast behind it;
4. the outbox is drained to the broker.

Cursors live in memory: after a restart the job starts at the current window (what the outbox
held survives the restart; windows while the platform was down are not published live, the
open-data export covers them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from connectors.mqtt_adapter import MqttConnection
from energy.datahub.district import read_window, store_district_slot, window_records
from energy.datahub.kpis import kpi_records, period_kpis, read_district_slots
from energy.datahub.mqtt_publisher import MqttPublisher, mqtt_settings
from energy.datahub.outbox import Outbox
from energy.datahub.plans import forecast_record, plan_record
from energy.datahub.records import Record
from energy.publication_config import MqttTargetConfig
from energy.site import Site
from energy.store.engine import Store
from energy.store.plans import active_plan
from energy.store.publication import PublicationAttempt, record_publication
from energy.timegrid import SLOT, floor_slot

__all__ = ["MAX_WINDOWS_PER_RUN", "MqttJob", "outbox_path"]

log = logging.getLogger(__name__)

MAX_WINDOWS_PER_RUN = 60
"""Windows caught up per run at most (a paused platform does not flood the broker at once)."""


def outbox_path(site: Site, config: MqttTargetConfig) -> Path:
    base = Path(config.queue_dir or Path(site.config.store.data_dir) / "datahub")
    return base / f"mqtt-outbox-{site.id}.sqlite"


class MqttJob:
    """See the module docstring. `run` is synchronous: the runtime calls it in a worker thread."""

    name = "publish_mqtt"

    def __init__(
        self,
        site: Site,
        store: Store,
        config: MqttTargetConfig,
        lag: dt.timedelta,
        now: dt.datetime,
        outbox: Outbox | None = None,
        connection: MqttConnection | None = None,
    ):
        self.site = site
        self.store = store
        self.config = config
        self.lag = lag
        self.outbox = outbox or Outbox(outbox_path(site, config), config.queue_max_messages)
        self.publisher = MqttPublisher(
            site,
            config,
            self.outbox,
            connection or MqttConnection(mqtt_settings(site, config, now)),
        )
        self._window_end: dt.datetime | None = None
        self._slot_done: pd.Timestamp | None = None
        self._plan_version: int | None = None

    @property
    def interval_s(self) -> float:
        """Site seconds between runs."""
        return 60.0 if self.config.measurements_every == "minute" else 0.0

    def start(self) -> None:
        self.publisher.connection.start()

    def _window_bound(self, now: dt.datetime) -> dt.datetime:
        end = now - self.lag
        if self.config.measurements_every == "minute":
            end = end.replace(second=0, microsecond=0)
        return end

    def collect(self, now: dt.datetime) -> list[Record]:
        """The records due at `now` (see module docstring), before the privacy filter."""
        records: list[Record] = []
        end = self._window_bound(now)
        step = dt.timedelta(minutes=1)
        start = self._window_end or (end - step)
        windows = 0
        while start < end and windows < MAX_WINDOWS_PER_RUN:
            stop = min(start + step, end) if self.config.measurements_every == "minute" else end
            frame = read_window(self.store, self.site.id, start, stop)
            records += window_records(self.site, frame, start, stop)
            start, windows = stop, windows + 1
        if windows == MAX_WINDOWS_PER_RUN and start < end:
            log.warning("MQTT: skipped measurement windows %s to %s (catching up)", start, end)
            start = end
        self._window_end = start
        records += self._slots(now)
        plan = active_plan(self.store, self.site.id, now)
        if plan is not None and plan.version != self._plan_version:
            records.append(plan_record(self.site, self.store, plan))
            forecast = forecast_record(self.site, self.store, plan.created_at)
            if forecast is not None:
                records.append(forecast)
            self._plan_version = plan.version
        return records

    def _slots(self, now: dt.datetime) -> list[Record]:
        last_finished = floor_slot(now - self.lag) - SLOT
        slot = self._slot_done + SLOT if self._slot_done is not None else last_finished
        finished = False
        while slot <= last_finished:
            store_district_slot(self.store, self.site, slot.to_pydatetime())
            self._slot_done, slot, finished = slot, slot + SLOT, True
        if not finished:
            return []
        day_start = pd.Timestamp(now).tz_convert(self.site.tz).normalize()
        end = (last_finished + SLOT).to_pydatetime()
        slots = read_district_slots(self.store, self.site, day_start.to_pydatetime(), end)
        if slots.empty:
            return []
        return kpi_records(
            period_kpis(slots, self.site, day_start.to_pydatetime(), end, "day"), "day"
        )

    def run(self, now: dt.datetime) -> str:
        """Collect, enqueue (through the privacy filter), drain and record the target's status;
        returns a job detail. A broker outage is the target's failure (its status row and, past
        alarm_after_s, its alarm), not the job's: the job did its part, the outbox holds the rest."""
        added = self.publisher.enqueue(self.collect(now))
        result = self.publisher.drain()
        connection = self.publisher.connection
        record_publication(
            self.store,
            self.site.id,
            PublicationAttempt(
                "mqtt",
                connection.where,
                ok=result.connected,
                error=None if result.connected else connection.last_error or "not connected",
                queue_length=result.remaining,
                dropped_total=self.outbox.dropped_total,
                sent=result.sent,
            ),
            self.config.alarm_after_s,
            now,
        )
        state = (
            "connected"
            if result.connected
            else f"not connected ({self.publisher.connection.last_error or 'connecting'})"
        )
        return f"{added} queued, {result.sent} sent, {result.remaining} waiting; broker {state}"

    async def stop(self, now: dt.datetime) -> None:
        await asyncio.to_thread(self.publisher.drain, 1)
        await asyncio.to_thread(self.publisher.stop, now)
        self.outbox.close()
