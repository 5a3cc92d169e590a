"""Weather feeds: a CSV file source and HTTP clients for Open-Meteo and Bright Sky (DWD).

Every feed returns the platform's weather frame: 15-minute UTC slots [t, t + 15 min) as index
(slot starts) and slot-average columns `temp_outdoor_c` [degC], `ghi_w_per_m2` and, where the
source has them, `dni_w_per_m2` and `dhi_w_per_m2` [W/m2]. Missing DNI/DHI are derived from GHI
downstream (forecasting.features.complete_irradiance).

Source conventions, converted here:

- Open-Meteo (`/v1/forecast`, `minutely_15`, `timezone=GMT`): temperature_2m is instantaneous at
  the stamp; shortwave_radiation, direct_normal_irradiance and diffuse_radiation are means over
  the 15 minutes *before* the stamp. Radiation stamped T becomes slot T - 15 min; the temperature
  of a slot is the mean of the readings at its start and end.
- Bright Sky (`/weather`, DWD MOSMIX forecasts and station observations, default `dwd` units):
  hourly; `temperature` [degC] instantaneous at the stamp, `solar` [kWh/m2] the irradiation of the
  hour *before* the stamp (mean W/m2 = 1000 x kWh/m2). Radiation stamped T covers the four slots of
  [T - 1 h, T); temperature is interpolated in time to slot midpoints.

No feed silently assumes UTC: timestamps without an offset are an error.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from energy.timegrid import SLOT, align_to_slots, as_utc, ceil_slot, floor_slot, slot_grid
from energy.weather import WEATHER_COLUMNS, WeatherFeed, WeatherFeedError, forecast_window

__all__ = [
    "BrightSkyClient",
    "CsvWeatherSource",
    "OpenMeteoClient",
    "WeatherFeed",
    "WeatherFeedError",
    "parse_bright_sky",
    "parse_open_meteo",
    "read_weather_csv",
]

log = logging.getLogger(__name__)

_HALF_SLOT = SLOT / 2


def _instant_to_slots(series: pd.Series, grid: pd.DatetimeIndex) -> np.ndarray:
    """Slot averages of an instantaneous quantity: interpolate to slot midpoints (no
    extrapolation beyond the readings)."""
    if series.dropna().empty:
        return np.full(len(grid), np.nan)
    known = series.dropna().sort_index()
    x = (known.index - grid[0]) / pd.Timedelta(seconds=1)
    mid = ((grid + _HALF_SLOT) - grid[0]) / pd.Timedelta(seconds=1)
    values = np.interp(mid, x, known.to_numpy(dtype=float), left=np.nan, right=np.nan)
    return values


def read_weather_csv(path: str | Path, timestamp_column: str | None = None) -> pd.DataFrame:
    """Read a weather CSV: a timestamp column with UTC offset (ISO 8601) marking interval starts,
    and any of the weather columns, at 15-minute or hourly resolution (hourly values are slot
    averages repeated on their four quarter hours; temperature is interpolated)."""
    file = Path(path)
    try:
        raw = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise WeatherFeedError(f"{file}: cannot read weather CSV: {exc}") from exc
    column = timestamp_column or raw.columns[0]
    if column not in raw.columns:
        raise WeatherFeedError(f"{file}: no timestamp column {column!r}; found {list(raw.columns)}")
    present = [c for c in WEATHER_COLUMNS if c in raw.columns]
    if "temp_outdoor_c" not in present:
        raise WeatherFeedError(
            f"{file}: expected a column temp_outdoor_c (and ghi_w_per_m2 for PV); "
            f"found {list(raw.columns)}"
        )
    index = _parse_times(raw[column], f"{file}:{column}")
    frame = raw[present].astype(float).set_axis(index)
    if frame.index.has_duplicates:
        raise WeatherFeedError(
            f"{file}: duplicate timestamps, e.g. {frame.index[frame.index.duplicated()][0]}"
        )
    frame = frame.sort_index()
    return pd.DataFrame(
        {
            name: align_to_slots(frame[name], "state" if name == "temp_outdoor_c" else "power")
            for name in present
        }
    )


def _parse_times(values: pd.Series, where: str) -> pd.DatetimeIndex:
    text = values.astype(str)
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    if not has_offset.all():
        bad = text[~has_offset].iloc[0]
        raise WeatherFeedError(
            f"{where}: timestamp {bad!r} has no UTC offset; expected ISO 8601 with offset, "
            "e.g. 2026-03-29T01:00:00+01:00"
        )
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"), name="slot_start")
    except (ValueError, TypeError) as exc:
        raise WeatherFeedError(f"{where}: unreadable timestamps: {exc}") from exc


class CsvWeatherSource:
    """A weather file (actuals or a stored forecast) served as a feed."""

    name = "csv"

    def __init__(self, path: str | Path, timestamp_column: str | None = None) -> None:
        self.path = Path(path)
        self.frame = read_weather_csv(self.path, timestamp_column)

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        grid = forecast_window(issue_time, horizon)
        return self.frame.reindex(grid)

    def history(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.frame.loc[as_utc(start) : as_utc(end) - SLOT]


def parse_open_meteo(payload: dict[str, Any]) -> pd.DataFrame:
    """Weather frame from an Open-Meteo `/v1/forecast` response with `minutely_15` data."""
    try:
        block = payload["minutely_15"]
        offset = pd.Timedelta(seconds=int(payload.get("utc_offset_seconds", 0)))
        stamps = pd.to_datetime(block["time"], format="ISO8601")
    except (KeyError, TypeError, ValueError) as exc:
        raise WeatherFeedError(
            f"Open-Meteo response: expected minutely_15.time and utc_offset_seconds; {exc!r}"
        ) from exc
    stamps = (stamps - offset).tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    if len(stamps) == 0:
        raise WeatherFeedError("Open-Meteo response: minutely_15.time is empty")
    grid = slot_grid(floor_slot(stamps.min() - SLOT), ceil_slot(stamps.max() + SLOT))
    out = pd.DataFrame(index=grid)
    if "temperature_2m" not in block:
        raise WeatherFeedError("Open-Meteo response: minutely_15.temperature_2m missing")
    temp = pd.Series(np.asarray(block["temperature_2m"], dtype=float), index=stamps)
    out["temp_outdoor_c"] = _instant_to_slots(temp, grid)
    for source, name in (
        ("shortwave_radiation", "ghi_w_per_m2"),
        ("direct_normal_irradiance", "dni_w_per_m2"),
        ("diffuse_radiation", "dhi_w_per_m2"),
    ):
        if source in block:
            values = pd.Series(np.asarray(block[source], dtype=float), index=stamps - SLOT)
            out[name] = values.reindex(grid).to_numpy()
    return out.dropna(how="all")


def parse_bright_sky(payload: dict[str, Any]) -> pd.DataFrame:
    """Weather frame from a Bright Sky `/weather` response (hourly, `dwd` units)."""
    try:
        records = payload["weather"]
        stamps = pd.DatetimeIndex(
            pd.to_datetime([r["timestamp"] for r in records], utc=True, format="ISO8601")
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WeatherFeedError(
            f"Bright Sky response: expected weather[].timestamp; {exc!r}"
        ) from exc
    if len(stamps) == 0:
        raise WeatherFeedError("Bright Sky response: no weather records")
    grid = slot_grid(floor_slot(stamps.min() - pd.Timedelta(hours=1)), ceil_slot(stamps.max()))
    temp = pd.Series([_float(r.get("temperature")) for r in records], index=stamps)
    out = pd.DataFrame(index=grid)
    out["temp_outdoor_c"] = _instant_to_slots(temp, grid)
    solar = pd.Series([_float(r.get("solar")) for r in records], index=stamps)
    if solar.notna().any():
        hourly_mean = (solar * 1000.0).set_axis(stamps - pd.Timedelta(hours=1))
        out["ghi_w_per_m2"] = align_to_slots(hourly_mean, "power", grid[0], grid[-1] + SLOT)
    return out.dropna(how="all")


def _float(value: Any) -> float:
    return float(value) if value is not None else float("nan")


class _HttpFeed:
    """A weather API queried for one location; subclasses name their service and default URL."""

    name = "http"
    default_base_url = ""

    def __init__(
        self,
        latitude_deg: float,
        longitude_deg: float,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._client = client or httpx.Client(timeout=timeout_s)

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            response = self._client.get(url, params=params)
            response.raise_for_status()
            payload = response.json()
        except httpx.HTTPStatusError as exc:
            raise WeatherFeedError(
                f"{self.name}: GET {url} answered {exc.response.status_code}: "
                f"{exc.response.text[:200]}"
            ) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise WeatherFeedError(f"{self.name}: GET {url} failed: {exc}") from exc
        if not isinstance(payload, dict):
            raise WeatherFeedError(f"{self.name}: GET {url}: expected a JSON object")
        return payload

    def close(self) -> None:
        self._client.close()


class OpenMeteoClient(_HttpFeed):
    """Open-Meteo forecast API (no key needed for non-commercial use; check the terms)."""

    name = "open-meteo"
    default_base_url = "https://api.open-meteo.com"
    VARIABLES = "temperature_2m,shortwave_radiation,direct_normal_irradiance,diffuse_radiation"

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        grid = forecast_window(issue_time, horizon)
        params = {
            "latitude": self.latitude_deg,
            "longitude": self.longitude_deg,
            "minutely_15": self.VARIABLES,
            "timezone": "GMT",
            "start_minute_15": grid[0].strftime("%Y-%m-%dT%H:%M"),
            "end_minute_15": (grid[-1] + SLOT).strftime("%Y-%m-%dT%H:%M"),
        }
        return parse_open_meteo(self._get("/v1/forecast", params)).reindex(grid)


class BrightSkyClient(_HttpFeed):
    """Bright Sky (DWD open data: MOSMIX forecasts, station observations)."""

    name = "bright-sky"
    default_base_url = "https://api.brightsky.dev"

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        grid = forecast_window(issue_time, horizon)
        params = {
            "lat": self.latitude_deg,
            "lon": self.longitude_deg,
            "date": grid[0].isoformat(),
            "last_date": (grid[-1] + pd.Timedelta(hours=1)).isoformat(),
            "tz": "Etc/UTC",
        }
        return parse_bright_sky(self._get("/weather", params)).reindex(grid)
