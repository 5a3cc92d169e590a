"""Weather feeds built on the DWD test reference year of the site's region.

- `TryWeatherFeed`: the simulator's and the evaluation's forecast, the reference year with a
  forecast error growing with lead time (forecasting.weather_error); its actuals are the
  reference year itself, so the simulated district and its forecast stay consistent.
- `ClimatologyFeed`: the reference year as it is, the last step of the live loop's fallback
  chain (energy.control.weather) when neither a live answer nor a stored forecast covers the
  horizon. It knows nothing of today's weather: planning on it is alarmed.

Both speak the energy.weather.WeatherFeed protocol. The live loop never imports this module; the
command line hands these feeds to it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from energy.physics.weather import load_try_weather
from energy.site import Site
from energy.timegrid import floor_slot
from energy.weather import forecast_window
from forecasting.config import WeatherErrorConfig
from forecasting.weather_error import simulate_weather_forecast

__all__ = ["ClimatologyFeed", "TryWeatherFeed"]


def _reference_years(region: int, grid: pd.DatetimeIndex) -> pd.DataFrame:
    years = range(grid[0].year, grid[-1].year + 1)
    return pd.concat([load_try_weather(region, y) for y in years])


class ClimatologyFeed:
    """The test reference year of the site's region mapped onto the requested slots."""

    name = "climatology"

    def __init__(self, site: Site):
        self.region = site.config.location.weather_try_region

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        grid = forecast_window(issue_time, horizon)
        return _reference_years(self.region, grid).reindex(grid)


class TryWeatherFeed:
    """The reference year with a synthetic forecast error (module docstring)."""

    name = "reference-year"

    def __init__(self, site: Site, error: WeatherErrorConfig | None = None):
        self.region = site.config.location.weather_try_region
        self.error = error or WeatherErrorConfig()

    def actual(self, slot_start: pd.Timestamp) -> pd.Series:
        """The weather of a finished slot (the feed's actuals: here the reference year)."""
        slot = floor_slot(slot_start)
        return load_try_weather(self.region, slot.year).loc[slot]

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        grid = forecast_window(issue_time, horizon)
        actual = _reference_years(self.region, grid)
        return simulate_weather_forecast(actual, grid[0], len(grid), self.error)
