"""Where the sun is at the site: an inverter silent while the sun is below the horizon is asleep,
not broken (the status page, the dispatch alarms and the derived series all judge it so)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pvlib

from energy.config import LocationConfig

__all__ = ["sun_is_down"]


def sun_is_down(location: LocationConfig, when: dt.datetime) -> bool:
    """Is the sun below the horizon at the site (apparent elevation, refraction included)?"""
    sun = pvlib.solarposition.get_solarposition(
        pd.DatetimeIndex([pd.Timestamp(when)]), location.latitude_deg, location.longitude_deg
    )
    return bool(sun["apparent_elevation"].iloc[0] < 0.0)
