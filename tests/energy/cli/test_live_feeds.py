"""The live loop's weather feed follows site.weather; a bad URL is refused with its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.weather import BrightSkyClient, OpenMeteoClient
from energy.cli.live_feeds import live_weather, weather_service
from energy.config import (
    DEFAULT_SITE_CONFIG,
    SiteConfigError,
    WeatherConfig,
    load_site_config,
)
from energy.site import Site
from energy.store import Store


def _with_weather(site: Site, **weather: object) -> Site:
    config = site.config.model_copy(update={"weather": WeatherConfig.model_validate(weather)})
    return Site.from_config(config)


def test_bright_sky_is_the_default_and_open_meteo_the_alternative(site: Site) -> None:
    default = weather_service(site)
    assert isinstance(default, BrightSkyClient)
    assert default.base_url == "https://api.brightsky.dev"
    assert (default.latitude_deg, default.longitude_deg) == (51.56, 7.25)
    other = weather_service(
        _with_weather(site, source="open_meteo", base_url="http://127.0.0.1:8999/")
    )
    assert isinstance(other, OpenMeteoClient)
    assert other.base_url == "http://127.0.0.1:8999"


def test_the_live_chain_falls_back_to_the_sites_climatology(
    site: Site, sqlite_store: Store
) -> None:
    chain = live_weather(site, sqlite_store)
    assert chain.live.name == "bright-sky"
    assert chain.climatology.name == "climatology"


def test_a_base_url_without_scheme_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    data["site"]["weather"]["base_url"] = "api.brightsky.dev"
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SiteConfigError) as info:
        load_site_config(path)
    (issue,) = info.value.issues
    assert issue.key_path == "site.weather.base_url"
    assert "http://" in issue.expected
    assert issue.found == "'api.brightsky.dev'"
