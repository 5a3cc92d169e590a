"""Shared fixtures for the physics tests: the default site and small variants of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from energy.config import SiteConfig, load_site_config
from energy.site import Site


@pytest.fixture(scope="session")
def site() -> Site:
    return Site.from_config(load_site_config())


@pytest.fixture(scope="session")
def make_site(site: Site) -> Callable[..., Site]:
    """Build a variant of the default site: `edit(data)` changes the config as plain data."""

    def build(edit: Callable[[dict[str, Any]], None]) -> Site:
        data = site.config.model_dump(mode="json")
        edit(data)
        return Site.from_config(SiteConfig.model_validate(data))

    return build


@pytest.fixture(scope="session")
def flat_profiles() -> Callable[..., pd.DataFrame]:
    """Constant exogenous inputs in the layout of district_profiles, for exact behaviour tests.

    Everything is zero (and 5 degC outdoors) unless given: `values` maps a column name, or a
    column suffix such as ":load_kw" meaning every house, to a constant.
    """

    def build(
        site: Site, start: str, hours: float, values: dict[str, float] | None = None
    ) -> pd.DataFrame:
        index = pd.date_range(
            pd.Timestamp(start, tz="UTC"), periods=int(hours * 4), freq="15min", name="slot_start"
        )
        columns = dict.fromkeys(
            ["ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2", "wind_speed_m_per_s"], 0.0
        )
        columns["temp_outdoor_c"] = 5.0
        for house in site.houses:
            for quantity in ("load_kw", "heat_demand_kw", "space_heat_kw", "hot_water_kw"):
                columns[f"{house.id}:{quantity}"] = 0.0
            if house.pv is not None:
                columns[f"{house.id}.pv:pv_kw"] = 0.0
        for name, value in (values or {}).items():
            matched = [c for c in columns if c == name or (name[0] == ":" and c.endswith(name))]
            if not matched:
                raise KeyError(f"flat_profiles: no column matches {name!r}")
            for column in matched:
                columns[column] = value
        return pd.DataFrame(columns, index=index)

    return build
