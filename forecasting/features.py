"""Feature construction: calendar (local time), lags known at issue time, weather, PV physics.

Every feature is a function of the valid time t of a slot [t, t + 15 min):

- profile: the BDEW H25 standard load profile value of the slot (a known future covariate);
- calendar, in the site's local time (DST-safe: computed per timestamp after conversion): hour of
  day, weekday, day type (0 workday, 1 Saturday, 2 Sunday or public holiday of the configured
  country/state via `holidays`), season as sine/cosine of the day of year;
- lags: the target at t - L for each configured L >= horizon (so known at issue time for every
  lead), and the mean of the target over the `rolling_mean_h` hours before t - min(L);
- weather at t (actuals for training, forecast after the issue time for prediction): outdoor
  temperature and its exponential smoothings (building inertia), global irradiance;
- solar (PV): sun elevation, a clear-sky PVWatts estimate of the target's plants (pvlib clear-sky
  model and plane-of-array transposition) and the same estimate from the (forecast) irradiance.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pvlib
from scipy.signal import lfilter

from energy.config import LocationConfig, PVConfig
from energy.timegrid import SLOT, SLOT_HOURS
from forecasting.calendar import calendar_features
from forecasting.config import FeatureConfig, FeatureGroup
from forecasting.slp import h25_profile
from forecasting.targets import Target

__all__ = [
    "WEATHER_COLUMNS",
    "FeatureBuilder",
    "complete_irradiance",
    "is_daylight",
    "issue_weather",
    "pv_estimate_kw",
    "smoothed_temperature",
    "solar_geometry",
    "static_features",
    "training_weather",
    "year_cached",
]

CALENDAR_COLUMNS = ["hour_local", "weekday", "day_type", "is_holiday", "season_sin", "season_cos"]
SLP_COLUMN = "slp_h25_kw_per_gwh"
_SLOT_NS = int(SLOT.total_seconds() * 1e9)
WEATHER_COLUMNS = ("temp_outdoor_c", "ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2")
_CELL_HEATING_K_PER_W_PER_M2 = 25.0 / 800.0  # NOCT-style rise of cell over air temperature


def static_features(index: pd.DatetimeIndex, location: LocationConfig) -> pd.DataFrame:
    """Features that depend on the valid time only: calendar and the H25 profile value.

    index must be a regular 15-minute grid (the H25 evaluation needs a frequency).
    """
    frame = calendar_features(index, location)
    frame[SLP_COLUMN] = h25_profile(index, location) if len(index) else []
    return frame


def solar_geometry(index: pd.DatetimeIndex, location: LocationConfig) -> pd.DataFrame:
    """Sun position at slot midpoints and clear-sky irradiance (pvlib simplified Solis)."""
    mid = index + SLOT / 2
    sun = pvlib.solarposition.get_solarposition(
        mid, location.latitude_deg, location.longitude_deg, altitude=location.altitude_m
    )
    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(mid), dtype=float)
    elevation = sun["apparent_elevation"].to_numpy(dtype=float)
    clear = pvlib.clearsky.simplified_solis(np.maximum(elevation, 0.0), dni_extra=dni_extra)
    up = elevation > 0
    frame = pd.DataFrame(
        {
            "zenith_deg": sun["apparent_zenith"].to_numpy(dtype=float),
            "azimuth_deg": sun["azimuth"].to_numpy(dtype=float),
            "elevation_deg": elevation,
            "dni_extra_w_per_m2": dni_extra,
            "clearsky_ghi_w_per_m2": np.where(up, np.nan_to_num(clear["ghi"]), 0.0),
            "clearsky_dni_w_per_m2": np.where(up, np.nan_to_num(clear["dni"]), 0.0),
            "clearsky_dhi_w_per_m2": np.where(up, np.nan_to_num(clear["dhi"]), 0.0),
        },
        index=index,
    )
    return frame


def year_cached(kind: str, valid: pd.DatetimeIndex, location: LocationConfig) -> pd.DataFrame:
    """`static_features` ("static") or `solar_geometry` ("geometry") on `valid`, looked up in a
    per-UTC-year cache: both depend on time and place only, and computing them for the 144 slots
    of every issue cost tens of milliseconds (sun position above all)."""
    years = range(int(valid.year.min()), int(valid.year.max()) + 1) if len(valid) else []
    frames = [_year_table(kind, year, location) for year in years]
    if not frames:
        return (
            static_features(valid, location)
            if kind == "static"
            else solar_geometry(valid, location)
        )
    table = frames[0] if len(frames) == 1 else pd.concat(frames)
    return table.reindex(valid)


@functools.lru_cache(maxsize=8)
def _year_table(kind: str, year: int, location: LocationConfig) -> pd.DataFrame:
    index = pd.date_range(
        pd.Timestamp(year=year, month=1, day=1, tz="UTC"),
        pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"),
        freq=SLOT,
        inclusive="left",
    )
    if kind == "static":
        return static_features(index, location)
    if kind == "geometry":
        return solar_geometry(index, location)
    raise ValueError(f"year_cached: kind must be 'static' or 'geometry'; found {kind!r}")


def complete_irradiance(weather: pd.DataFrame, geometry: pd.DataFrame) -> pd.DataFrame:
    """Fill missing DNI/DHI from GHI with the Erbs decomposition (feeds often give GHI only)."""
    components = [c for c in ("dni_w_per_m2", "dhi_w_per_m2") if c in weather]
    if len(components) == 2 and not weather[components].isna().any().any():
        return weather
    out = weather.copy()
    ghi = out["ghi_w_per_m2"].to_numpy(dtype=float)
    parts = pvlib.irradiance.erbs(ghi, geometry["zenith_deg"].to_numpy(), out.index + SLOT / 2)
    for column, part in (("dni_w_per_m2", "dni"), ("dhi_w_per_m2", "dhi")):
        derived = np.nan_to_num(np.asarray(parts[part], dtype=float)).clip(min=0.0)
        if column in out:
            out[column] = out[column].fillna(pd.Series(derived, index=out.index))
        else:
            out[column] = derived
    return out


def pv_estimate_kw(
    systems: tuple[PVConfig, ...],
    geometry: pd.DataFrame,
    ghi: np.ndarray,
    dni: np.ndarray,
    dhi: np.ndarray,
    temp_c: np.ndarray,
) -> np.ndarray:
    """Simple PVWatts estimate (kW AC) summed over plants: isotropic plane of array, NOCT-style
    cell temperature, configured losses and inverter efficiency, clipped at the AC rating."""
    total = np.zeros(len(geometry))
    zenith = geometry["zenith_deg"].to_numpy()
    azimuth = geometry["azimuth_deg"].to_numpy()
    for pv in systems:
        poa = pvlib.irradiance.get_total_irradiance(
            pv.tilt_deg, pv.azimuth_deg, zenith, azimuth, dni, ghi, dhi, model="isotropic"
        )["poa_global"]
        poa = np.nan_to_num(np.asarray(poa, dtype=float)).clip(min=0.0)
        cell_c = temp_c + poa * _CELL_HEATING_K_PER_W_PER_M2
        dc = pv.peak_kw * poa / 1000.0 * (1.0 + pv.temp_coefficient_per_k * (cell_c - 25.0))
        ac = dc * (1.0 - pv.system_loss_frac) * pv.inverter_efficiency_frac
        total += np.clip(ac, 0.0, pv.peak_kw * pv.inverter_efficiency_frac)
    return total


def smoothed_temperature(
    temp_c: pd.Series, time_constants_h: list[float], initial: dict[str, float] | None = None
) -> pd.DataFrame:
    """First-order low-pass of a contiguous 15-minute temperature series, one column per tau.

    initial: the smoothed value before the first slot per column (default: the first value).
    """
    values = temp_c.to_numpy(dtype=float)
    columns = {}
    for tau in time_constants_h:
        name = f"temp_smooth_{tau:g}h_c"
        start = values[0] if initial is None else initial[name]
        alpha = 1.0 - np.exp(-SLOT_HOURS / tau)
        filtered, _ = lfilter([alpha], [1.0, alpha - 1.0], values, zi=[start * (1.0 - alpha)])
        columns[name] = filtered
    return pd.DataFrame(columns, index=temp_c.index)


def training_weather(actual: pd.DataFrame, time_constants_h: list[float]) -> pd.DataFrame:
    """Weather inputs from actuals: the weather columns plus smoothed temperatures.

    Gaps in the temperature are bridged by interpolation before smoothing (the filter needs a
    contiguous series); the raw columns keep their gaps.
    """
    missing = [c for c in ("temp_outdoor_c", "ghi_w_per_m2") if c not in actual.columns]
    if missing:
        raise KeyError(f"weather needs columns {missing}; found {list(actual.columns)}")
    cols = [c for c in WEATHER_COLUMNS if c in actual.columns]
    temp = actual["temp_outdoor_c"].interpolate(limit_direction="both")
    return pd.concat([actual[cols], smoothed_temperature(temp, time_constants_h)], axis=1)


def issue_weather(
    known: pd.DataFrame,
    forecast: pd.DataFrame,
    issue_time: pd.Timestamp,
    time_constants_h: list[float],
) -> pd.DataFrame:
    """Weather inputs for the valid times of one issue.

    known: output of `training_weather` on the actuals (only rows before issue_time are used);
    forecast: the weather forecast on the valid times (>= issue_time). The smoothed temperatures
    continue from their state at the last known slot before the issue.
    """
    before = known.loc[: issue_time - SLOT]
    future = forecast.loc[issue_time:]
    if future.empty:
        raise ValueError(f"weather forecast has no rows at or after issue {issue_time.isoformat()}")
    names = [f"temp_smooth_{tau:g}h_c" for tau in time_constants_h]
    initial = None if before.empty else {name: float(before[name].iloc[-1]) for name in names}
    temp = future["temp_outdoor_c"].interpolate(limit_direction="both")
    cols = [c for c in WEATHER_COLUMNS if c in future.columns]
    return pd.concat([future[cols], smoothed_temperature(temp, time_constants_h, initial)], axis=1)


@dataclass(frozen=True)
class FeatureBuilder:
    """Builds the feature matrix of one target for given valid times.

    Inputs per call: `history` (the target's actual series, used only through lags >= horizon),
    `weather` (temperature, irradiance and smoothed temperatures on the valid times: actuals for
    training, the issue's forecast for prediction), and optionally precomputed `calendar` and
    `geometry` frames covering the valid times (computed on demand otherwise); `calendar` is the
    output of `static_features`.
    """

    target: Target
    config: FeatureConfig
    location: LocationConfig

    @property
    def groups(self) -> list[FeatureGroup]:
        return self.config.groups_for(self.target.kind.value)

    @functools.cached_property
    def columns(self) -> list[str]:
        names: list[str] = []
        groups = self.groups
        if FeatureGroup.CALENDAR in groups:
            names += CALENDAR_COLUMNS
        if FeatureGroup.PROFILE in groups:
            names.append(SLP_COLUMN)
        if FeatureGroup.LAGS in groups:
            names += [f"lag_{lag:g}h" for lag in self.config.lags_h]
            if self.config.rolling_mean_h:
                names.append(f"mean_{self.config.rolling_mean_h:g}h_before_lag")
        if FeatureGroup.TEMPERATURE in groups:
            names.append("temp_outdoor_c")
            names += [f"temp_smooth_{tau:g}h_c" for tau in self.config.temp_smoothing_h]
        if FeatureGroup.IRRADIANCE in groups:
            names.append("ghi_w_per_m2")
        if FeatureGroup.SOLAR in groups:
            names += ["elevation_deg", "pv_clearsky_kw", "pv_weather_kw"]
        return names

    def build(
        self,
        valid: pd.DatetimeIndex,
        history: pd.Series | None,
        weather: pd.DataFrame,
        calendar: pd.DataFrame | None = None,
        geometry: pd.DataFrame | None = None,
        cache: dict[Any, Any] | None = None,
    ) -> pd.DataFrame:
        """Feature matrix on `valid`. `cache` may be shared between the targets of one call with
        the same valid times and weather (per-plant PV estimates are computed once)."""
        groups = self.groups
        shared: dict[Any, Any] = {} if cache is None else cache
        arrays: dict[str, np.ndarray] = {}

        def columns_of(key: str, frame_of: Any, names: list[str]) -> None:
            """Copy columns of a frame aligned to `valid`, once per shared cache."""
            for name in names:
                if (key, name) not in shared:
                    frame = shared.get(key)
                    if frame is None:
                        frame = shared[key] = _on(frame_of(), valid)
                    shared[(key, name)] = frame[name].to_numpy(dtype=float)
                arrays[name] = shared[(key, name)]

        def static() -> pd.DataFrame:
            return calendar if calendar is not None else static_features(valid, self.location)

        if FeatureGroup.CALENDAR in groups:
            columns_of("calendar", static, CALENDAR_COLUMNS)
        if FeatureGroup.PROFILE in groups:
            columns_of("calendar", static, [SLP_COLUMN])
        if FeatureGroup.LAGS in groups:
            if history is None:
                raise ValueError(f"target {self.target.name}: lag features need the history")
            arrays.update(self._lags(valid, history, shared))
        if FeatureGroup.TEMPERATURE in groups:
            names = ["temp_outdoor_c"] + [
                f"temp_smooth_{tau:g}h_c" for tau in self.config.temp_smoothing_h
            ]
            columns_of("weather", lambda: weather, names)
        if FeatureGroup.IRRADIANCE in groups:
            columns_of("weather", lambda: weather, ["ghi_w_per_m2"])
        if FeatureGroup.SOLAR in groups:
            if "geometry" not in shared:
                geo = geometry if geometry is not None else solar_geometry(valid, self.location)
                shared["geometry"] = _on(geo, valid)
            if "weather" not in shared:
                shared["weather"] = _on(weather, valid)
            arrays.update(self._solar(shared["geometry"], shared["weather"], shared))
        matrix = np.empty((len(valid), len(self.columns)))
        for position, name in enumerate(self.columns):
            matrix[:, position] = arrays[name]
        return pd.DataFrame(matrix, index=valid, columns=self.columns)

    def _lags(
        self, valid: pd.DatetimeIndex, history: pd.Series, cache: dict[Any, Any]
    ) -> dict[str, np.ndarray]:
        """Lag features. On a regular history grid, where the lag times fall is the same for
        every target of one call with the same history span, so it is worked out once per cache."""
        values = history.to_numpy(dtype=float)
        lookup = _SlotLookup(history.index)
        span = (lookup.start, len(history)) if lookup.regular else None

        def at(source: np.ndarray, hours: float) -> np.ndarray:
            key = ("lag_positions", span, hours)
            positions = cache.get(key) if span is not None else None
            if positions is None:
                positions = lookup.positions(valid - dt.timedelta(hours=hours))
                if span is not None:
                    cache[key] = positions
            return lookup.take_at(source, positions)

        columns = {f"lag_{lag:g}h": at(values, lag) for lag in self.config.lags_h}
        if self.config.rolling_mean_h:
            window = round(self.config.rolling_mean_h / SLOT_HOURS)
            rolling = _rolling_mean(values, window, min_count=max(1, window // 2))
            # mean over the window that ends where the shortest lag ends (known at issue time)
            name = f"mean_{self.config.rolling_mean_h:g}h_before_lag"
            columns[name] = at(rolling, min(self.config.lags_h))
        return columns

    def _solar(
        self, geometry: pd.DataFrame, weather: pd.DataFrame, cache: dict[Any, Any]
    ) -> dict[str, np.ndarray]:
        if "irradiance" not in cache:
            complete = complete_irradiance(weather, geometry)
            cache["irradiance"] = {
                "temp": weather["temp_outdoor_c"].to_numpy(dtype=float),
                "clear": [
                    geometry[f"clearsky_{c}_w_per_m2"].to_numpy() for c in ("ghi", "dni", "dhi")
                ],
                "forecast": [
                    complete[f"{c}_w_per_m2"].to_numpy(dtype=float) for c in ("ghi", "dni", "dhi")
                ],
                "elevation": geometry["elevation_deg"].to_numpy(dtype=float),
            }
        inputs = cache["irradiance"]
        clear = np.zeros(len(geometry))
        estimate = np.zeros(len(geometry))
        for pv in self.target.pv_systems:
            if (pv, "clear") not in cache:
                for key, source in (("clear", "clear"), ("weather", "forecast")):
                    ghi, dni, dhi = inputs[source]
                    cache[(pv, key)] = pv_estimate_kw(
                        (pv,), geometry, ghi, dni, dhi, inputs["temp"]
                    )
            clear += cache[(pv, "clear")]
            estimate += cache[(pv, "weather")]
        return {
            "elevation_deg": inputs["elevation"],
            "pv_clearsky_kw": clear,
            "pv_weather_kw": estimate,
        }


class _SlotLookup:
    """Values at given times from arrays on `index`: positional on a regular 15-minute grid (the
    normal case, fast), by label otherwise. Times outside the index give NaN."""

    def __init__(self, index: pd.DatetimeIndex) -> None:
        self.index = index
        stamps = index.as_unit("ns").asi8
        self.start = int(stamps[0]) if len(stamps) else 0
        self.regular = len(stamps) > 0 and stamps[-1] - stamps[0] == (len(stamps) - 1) * _SLOT_NS

    def positions(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Position of each time in the index, -1 where it is not there."""
        if self.regular:
            position = (times.as_unit("ns").asi8 - self.start) // _SLOT_NS
            position[(position < 0) | (position >= len(self.index))] = -1
            return position
        return self.index.get_indexer(times)

    def take_at(self, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """values at `positions` (from `positions`), NaN where -1."""
        inside = positions >= 0
        out = np.full(len(positions), np.nan)
        out[inside] = values[positions[inside]]
        return out


def _rolling_mean(values: np.ndarray, window: int, min_count: int) -> np.ndarray:
    """Trailing mean over `window` values ending at each position, ignoring NaN."""
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    upper = np.arange(1, len(values) + 1)
    lower = np.maximum(upper - window, 0)
    n = counts[upper] - counts[lower]
    total = sums[upper] - sums[lower]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= min_count, total / n, np.nan)


def _on(frame: pd.DataFrame, valid: pd.DatetimeIndex) -> pd.DataFrame:
    if frame.index.equals(valid):
        return frame
    return frame.reindex(valid)


def is_daylight(geometry: pd.DataFrame) -> np.ndarray:
    """Slots whose midpoint has the sun above the horizon (PV can be non-zero)."""
    return geometry["elevation_deg"].to_numpy() > 0.0
