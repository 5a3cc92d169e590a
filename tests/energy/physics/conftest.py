"""Shared fixtures for the physics tests: the default site and small variants of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
