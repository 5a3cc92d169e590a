"""The live loop's external feeds, built from the site configuration.

The command line composes them (the control loop knows only the energy.weather protocol): the
configured weather service wrapped in the fallback chain with the store and the climatology of
the site's region.
"""

from __future__ import annotations

from connectors.weather import BrightSkyClient, OpenMeteoClient
from energy.control.weather import WeatherChain
from energy.physics.weather_feed import ClimatologyFeed
from energy.site import Site
from energy.store.engine import Store
from energy.weather import WeatherFeed

__all__ = ["live_weather", "weather_service"]


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
