"""The data-hub jobs of a running platform, built from the site's publication section."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from energy.site import Site
from energy.store.engine import Store

if TYPE_CHECKING:
    from energy.datahub.ngsi_job import WeatherForecastFeed

__all__ = ["HubJob", "build_hub_jobs"]


class HubJob(Protocol):
    """A publication job: the runtime calls `run` in a worker thread as the lease holder, every
    `interval_s` site seconds (0: every poll), and `stop` once at shutdown."""

    name: str

    @property
    def interval_s(self) -> float: ...

    def start(self) -> None: ...

    def run(self, now: dt.datetime) -> str: ...

    async def stop(self, now: dt.datetime) -> None: ...


def build_hub_jobs(
    site: Site,
    store: Store,
    poll_interval_site_s: float,
    now: dt.datetime,
    weather: WeatherForecastFeed | None = None,
) -> list[HubJob]:
    """One job per enabled publication target; a window is read two polls after it ended.
    `weather` is the platform's weather forecast feed (for WeatherForecast entities)."""
    from energy.datahub.mqtt_job import MqttJob
    from energy.datahub.ngsi_job import NgsiLdJob

    publication = site.config.publication
    lag = dt.timedelta(seconds=2 * poll_interval_site_s)
    jobs: list[HubJob] = []
    if publication.mqtt.enabled:
        jobs.append(MqttJob(site, store, publication.mqtt, lag, now))
    if publication.ngsi_ld.enabled:
        jobs.append(NgsiLdJob(site, store, publication.ngsi_ld, lag, weather))
    return jobs
