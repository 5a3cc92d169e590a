"""The NGSI-LD publication job: the district's current state as Smart Data Model entities,
upserted to the context broker every `interval_s` site seconds.

Each run takes the last full minute before now - lag, builds the district and (consenting) house
records, the outdoor weather, the active plan and the weather forecast, passes them through the
privacy filter and upserts the entities (energy.datahub.ngsi_entities) in batches. A broker that
cannot be reached is the target's failure (status row, alarm past alarm_after_s); the next run
sends the then current state (entities are state, not a log: nothing is queued).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from connectors.ngsi_ld_client import NgsiLdClient, NgsiLdError
from energy.datahub.district import read_window, window_records
from energy.datahub.ngsi_entities import Entity, build_entities, weather_forecast_entities
from energy.datahub.plans import plan_record
from energy.datahub.privacy import consenting_houses, publishable
from energy.datahub.records import Record
from energy.publication_config import NgsiLdTargetConfig, PublicationKind
from energy.site import Site
from energy.store.engine import Store
from energy.store.plans import active_plan
from energy.store.publication import PublicationAttempt, record_publication

__all__ = ["NgsiLdJob", "WeatherForecastFeed", "ngsi_ld_token"]

log = logging.getLogger(__name__)

WeatherForecastFeed = Callable[[pd.Timestamp, int], pd.DataFrame]
"""(issue time, slots) -> forecast frame with temp_outdoor_c, index UTC slot starts"""


def ngsi_ld_token(site: Site, config: NgsiLdTargetConfig) -> str | None:
    """The bearer token: KV_NGSI_TOKEN, else the first line of token_file (relative to the site
    config). ValueError names the file when it cannot be read."""
    token = os.environ.get("KV_NGSI_TOKEN")
    if token or not config.token_file:
        return token or None
    path = Path(config.token_file)
    if not path.is_absolute() and site.config.source_path is not None:
        path = site.config.source_path.parent / path
    try:
        return path.read_text(encoding="utf-8").strip().splitlines()[0]
    except (OSError, IndexError) as exc:
        raise ValueError(
            f"publication.ngsi_ld.token_file {path}: expected a file with the token; {exc}"
        ) from exc


class NgsiLdJob:
    """See the module docstring. `run` is synchronous: the runtime calls it in a worker thread."""

    name = "publish_ngsi_ld"

    def __init__(
        self,
        site: Site,
        store: Store,
        config: NgsiLdTargetConfig,
        lag: dt.timedelta,
        weather: WeatherForecastFeed | None = None,
        client: NgsiLdClient | None = None,
    ):
        self.site = site
        self.store = store
        self.config = config
        self.lag = lag
        self.weather = weather
        self.client = client or NgsiLdClient(
            config.url,
            token=ngsi_ld_token(site, config),
            tenant=config.tenant,
            timeout_s=config.timeout_s,
            retries=config.retries,
            backoff_s=config.backoff_s,
            batch_size=config.batch_size,
        )

    @property
    def interval_s(self) -> float:
        return self.config.interval_s

    def start(self) -> None:
        return None

    def records(self, now: dt.datetime) -> list[Record]:
        """The current state as records, before the privacy filter."""
        end = (now - self.lag).replace(second=0, microsecond=0)
        start = end - dt.timedelta(minutes=1)
        records = window_records(
            self.site, read_window(self.store, self.site.id, start, end), start, end
        )
        plan = active_plan(self.store, self.site.id, now)
        if plan is not None:
            records.append(plan_record(self.site, self.store, plan))
        return records

    def entities(self, now: dt.datetime) -> list[Entity]:
        """The entities to upsert at `now`: only what the privacy rule lets through."""
        allowed = publishable(self.site.config, self.records(now), self.config.kinds)
        members = consenting_houses(self.site.config, now.astimezone(self.site.tz).date())
        entities = build_entities(self.site, self.config, allowed, members)
        if self.weather is not None and PublicationKind.WEATHER in self.config.kinds:
            issue = pd.Timestamp(now)
            entities += weather_forecast_entities(
                self.site, self.config, self.weather(issue, 4 * 25), now
            )
        return entities

    def run(self, now: dt.datetime) -> str:
        entities = self.entities(now)
        error: str | None
        try:
            result = self.client.upsert(entities)
        except NgsiLdError as exc:
            error, detail = str(exc), f"{len(entities)} entities not sent: {exc}"
            sent = 0
        else:
            refused = ", ".join(f"{k}: {v}" for k, v in result.errors.items())
            error = f"refused {refused}" if refused else None
            sent = len(entities) - len(result.errors)
            detail = (
                f"{len(entities)} entities: {len(result.created)} created, {result.updated} "
                f"updated" + (f", {error}" if error else "")
            )
        record_publication(
            self.store,
            self.site.id,
            PublicationAttempt(
                "ngsi_ld", self.config.url, ok=error is None, error=error, sent=sent
            ),
            self.config.alarm_after_s,
            now,
        )
        return detail

    async def stop(self, now: dt.datetime) -> None:
        await asyncio.to_thread(self.client.close)
