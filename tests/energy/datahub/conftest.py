"""Fixtures of the data-hub tests: a site whose consent is known, and a window of readings."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from energy.publication_config import PublicationConfig
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import write_measurements

NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
CONSENTING = "house-02"
WITHHELD = "house-01"


@pytest.fixture(scope="session")
def hub_site(site: Site) -> Site:
    """The default site with consent for house-02 only (house-05's withdrawn)."""
    return with_consent(
        site,
        {
            CONSENTING: {"granted": True, "date": dt.date(2026, 3, 1)},
            "house-05": {"granted": False, "date": dt.date(2026, 5, 1)},
        },
    )


def with_consent(site: Site, consent: dict[str, dict[str, object]], **targets: object) -> Site:
    """The site with another consent table (and other publication targets, if given)."""
    publication = PublicationConfig.model_validate(
        {**site.config.publication.model_dump(mode="python"), "consent": consent, **targets}
    )
    return Site.from_config(site.config.model_copy(update={"publication": publication}))


def readings(site: Site, start: dt.datetime, minutes: int, step_s: int = 30) -> pd.DataFrame:
    """GOOD readings of every device every step_s seconds: grid import 10 kW, each PV 2 kW,
    each battery charging 0.5 kW at soc 0.5, each heat pump 1 kW, outdoor 12 degC."""
    times = pd.date_range(start, periods=minutes * 60 // step_s, freq=f"{step_s}s")
    rows = []
    for t in times:
        rows.append(("grid.meter", "power_kw", t, 10.0))
        for house in site.houses:
            rows.append((f"{house.id}.meter", "power_kw", t, 1.0))
            if house.pv is not None:
                rows.append((f"{house.id}.pv", "power_kw", t, 2.0))
            if house.battery is not None:
                rows.append((f"{house.id}.battery", "power_kw", t, 0.5))
                rows.append((f"{house.id}.battery", "soc_frac", t, 0.5))
            if house.heat_pump is not None:
                rows.append((f"{house.id}.hp", "electric_power_kw", t, 1.0))
                rows.append((f"{house.id}.hp", "temp_outdoor_c", t, 12.0))
        for battery in site.config.community_batteries:
            rows.append((battery.id, "power_kw", t, 0.5))
            rows.append((battery.id, "soc_frac", t, 0.5))
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["quality"] = int(Quality.GOOD)
    return frame


@pytest.fixture
def hub_store(sqlite_store: Store, hub_site: Site) -> Store:
    """A SQLite store with 30 minutes of readings from NOW - 30 min."""
    write_measurements(
        sqlite_store, hub_site.id, readings(hub_site, NOW - dt.timedelta(minutes=30), 30)
    )
    return sqlite_store
