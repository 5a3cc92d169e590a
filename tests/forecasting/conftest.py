"""Shared data of the forecasting tests: a slice of the simulated district (cached per process)."""

from __future__ import annotations

import pandas as pd
import pytest

from energy.physics.profiles import district_profiles
from energy.site import Site


@pytest.fixture(scope="session")
def district_winter(site: Site) -> pd.DataFrame:
    """Ten weeks of the simulated district, January to mid-March 2025 (UTC slots)."""
    return district_profiles(
        site, pd.Timestamp("2025-01-01T00:00Z"), pd.Timestamp("2025-03-12T00:00Z")
    )


@pytest.fixture(scope="session")
def district_spring(site: Site) -> pd.DataFrame:
    """Five weeks around the 2026 spring-forward change (29 March)."""
    return district_profiles(
        site, pd.Timestamp("2026-03-01T00:00Z"), pd.Timestamp("2026-04-06T00:00Z")
    )
