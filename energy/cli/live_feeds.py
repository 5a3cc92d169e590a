"""The live loop's external feeds, built from the site configuration.

The command line composes them (the control loop knows only the energy.weather and energy.prices
protocols): the configured weather service wrapped in the fallback chain with the store and the
climatology of the site's region; the configured day-ahead price sources in their order, the
ENTSO-E security token read from the environment or from a token file, never from the config.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from connectors.prices import EnergyChartsClient, EntsoeClient
from connectors.weather import BrightSkyClient, OpenMeteoClient
from energy.control.prices import DayAheadPrices
from energy.control.weather import WeatherChain
from energy.physics.weather_feed import ClimatologyFeed
from energy.prices import PriceFeed, PriceFeedError
from energy.site import Site
from energy.store.engine import Store
from energy.weather import WeatherFeed

__all__ = ["entsoe_token", "live_prices", "live_weather", "price_sources", "weather_service"]

log = logging.getLogger(__name__)


def weather_service(site: Site) -> WeatherFeed:
    """The configured weather service for the site's location (site.weather)."""
    config = site.config.weather
    location = site.config.location
    client_class = BrightSkyClient if config.source == "bright_sky" else OpenMeteoClient
    return client_class(
        location.latitude_deg,
        location.longitude_deg,
        base_url=config.base_url,
        timeout_s=config.timeout_s,
    )


def live_weather(site: Site, store: Store) -> WeatherChain:
    """The weather service, then the newest stored forecast, then climatology."""
    return WeatherChain(site.id, store, weather_service(site), ClimatologyFeed(site))


def entsoe_token(site: Site) -> str | None:
    """The ENTSO-E security token: the environment variable prices.token_env, else the first
    line of prices.token_file (relative to the config file); None when neither has one."""
    config = site.config.prices
    token = os.environ.get(config.token_env, "").strip()
    if token:
        return token
    if config.token_file is None:
        return None
    path = Path(config.token_file)
    if not path.is_absolute() and site.config.source_path is not None:
        path = site.config.source_path.parent / path
    try:
        return path.read_text(encoding="utf-8").strip().splitlines()[0].strip() or None
    except (OSError, IndexError) as exc:
        raise PriceFeedError(f"prices.token_file {path}: cannot read a token ({exc})") from exc


def price_sources(site: Site) -> list[PriceFeed]:
    """The configured price sources in order; ENTSO-E is left out (logged) without a token."""
    config = site.config.prices
    sources: list[PriceFeed] = []
    for name in config.sources:
        if name == "entsoe":
            token = entsoe_token(site)
            if token is None:
                log.warning(
                    "ENTSO-E left out: no token in $%s%s",
                    config.token_env,
                    f" or {config.token_file}" if config.token_file else "",
                )
                continue
            sources.append(
                EntsoeClient(
                    token, config.zone_eic, config.entsoe_base_url, timeout_s=config.timeout_s
                )
            )
        else:
            sources.append(
                EnergyChartsClient(
                    config.zone, config.energy_charts_base_url, timeout_s=config.timeout_s
                )
            )
    if not sources:
        raise PriceFeedError(
            f"prices.sources {config.sources}: none usable (ENTSO-E needs ${config.token_env})"
        )
    return sources


def live_prices(site: Site, store: Store) -> DayAheadPrices:
    """Day-ahead prices fetched from the configured sources into the store."""
    config = site.config.prices
    return DayAheadPrices(
        site.id,
        store,
        config.zone,
        price_sources(site),
        site.tz,
        config.publication_local,
        dt.timedelta(minutes=config.overdue_after_min),
    )
