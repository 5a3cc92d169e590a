"""Exogenous profiles of the simulated district: weather, household load, heat demand and PV.

`district_profiles` is the "realised future" of the simulated Klimaviertel: what forecasting trains
on, what the simulator plays back and what evaluation compares against. Values are slot averages on
the 15-minute UTC grid. Everything is deterministic for (site configuration, seed, model).

How each series is made (one UTC calendar year at a time, cached, then sliced):

- household electricity, by ProfileModel.household_load:
  "synpro" (default): behavioural single-household profiles (Fraunhofer ISE synPRO, four
  household types, see energy.physics.synpro), one type per house, offset by whole weeks per house
  and year. This is the default because real households are not the standard load profile: a
  district made of H25 would make the BDEW profile look like a perfect forecast;
  "h25": the BDEW 2025 household profile H25 (demandlib), evaluated in local time with the site's
  public holidays as Sundays, multiplied by seeded day-level and (autocorrelated) slot-level
  noise; the expected load of every house is the scaled H25 profile (needs no data package);
  either way shifted per house by a few quarter hours and scaled to annual_electricity_kwh;
- space heat: heating degrees below the house's heating_limit_temp_c of the outdoor temperature
  low-pass filtered with the building's time constant (zero when it is warm), times a daily shape
  (night setback, morning reheat) and seeded noise, scaled to annual_space_heat_kwh;
- hot water: a daily draw-off pattern (morning and evening peaks) in local time with seeded day and
  slot noise, scaled to annual_hot_water_kwh;
- PV (AC, kW): pvlib sun position at the site, Hay-Davies plane-of-array irradiance, SAPM cell
  temperature, PVWatts DC with the module temperature coefficient, system losses and PVWatts
  inverter efficiency; the inverter's AC rating is inverter_efficiency_frac x peak_kw.

Annual scaling is exact per UTC calendar year, so a year's sums equal the configured figures.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import warnings
import zlib
from dataclasses import dataclass
from typing import Literal

import holidays
import numpy as np
import pandas as pd
import pvlib
from demandlib.bdew import H25
from pandas.errors import Pandas4Warning
from scipy.signal import lfilter

from energy.config import HouseConfig, LocationConfig, PVConfig, SiteConfig
from energy.physics.synpro import synpro_household_type, synpro_load_w, synpro_week_offset
from energy.physics.weather import load_try_weather
from energy.site import Site
from energy.timegrid import SLOT, SLOT_HOURS, as_utc, slot_grid

__all__ = [
    "DEFAULT_PROFILE_MODEL",
    "WEATHER_COLUMNS",
    "ProfileModel",
    "district_profiles",
    "pv_ac_power_kw",
]

logger = logging.getLogger(__name__)

WEATHER_COLUMNS = (
    "temp_outdoor_c",
    "ghi_w_per_m2",
    "dni_w_per_m2",
    "dhi_w_per_m2",
    "wind_speed_m_per_s",
)

#: Relative hot-water draw by local hour (morning and evening peaks), normalised in use.
_HOT_WATER_SHAPE = (0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.8, 2.4, 1.8, 1.2, 1.0, 1.0,
                    1.2, 1.0, 0.8, 0.8, 0.9, 1.2, 1.6, 2.0, 1.8, 1.4, 0.9, 0.5)  # fmt: skip
#: Relative space-heat demand by local hour: night setback 22-05 h, reheat 06-08 h.
_SPACE_HEAT_SHAPE = (0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 1.2, 1.2, 1.2, 1.0, 1.0, 1.0,
                     1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.85, 0.85)  # fmt: skip


@dataclass(frozen=True)
class ProfileModel:
    """Parameters of the synthetic profile generator (behaviour, not plant sizes).

    Noise levels are standard deviations of the log of mean-one multiplicative factors.
    household_load selects the household electricity model ("synpro": behavioural synPRO
    households, which ignore the load_*_sigma/autocorr noise parameters; "h25": H25 plus noise);
    synpro_week_offset_max bounds the per-house whole-week offset of the synPRO source days.
    """

    household_load: Literal["h25", "synpro"] = "synpro"
    synpro_week_offset_max: int = 4
    load_shift_max_slots: int = 2
    load_day_sigma: float = 0.15
    load_slot_sigma: float = 0.30
    load_slot_autocorr: float = 0.6
    building_time_constant_h: float = 12.0
    space_heat_day_sigma: float = 0.08
    space_heat_slot_sigma: float = 0.10
    hot_water_day_sigma: float = 0.20
    hot_water_slot_sigma: float = 0.60
    hot_water_hourly_shape: tuple[float, ...] = _HOT_WATER_SHAPE
    space_heat_hourly_shape: tuple[float, ...] = _SPACE_HEAT_SHAPE
    pv_albedo: float = 0.2
    pv_cell_temperature_model: str = "close_mount_glass_glass"

    def __post_init__(self) -> None:
        for name in ("hot_water_hourly_shape", "space_heat_hourly_shape"):
            shape = getattr(self, name)
            if len(shape) != 24 or min(shape) < 0 or sum(shape) <= 0:
                raise ValueError(
                    f"ProfileModel.{name}: expected 24 non-negative values with a "
                    f"positive sum; found {shape!r}"
                )
        if self.household_load not in ("h25", "synpro"):
            raise ValueError(
                "ProfileModel.household_load: expected 'h25' or 'synpro'; "
                f"found {self.household_load!r}"
            )
        if self.synpro_week_offset_max < 0:
            raise ValueError(
                "ProfileModel.synpro_week_offset_max: expected >= 0; "
                f"found {self.synpro_week_offset_max}"
            )
        if not 0 <= self.load_slot_autocorr < 1:
            raise ValueError(
                "ProfileModel.load_slot_autocorr: expected 0 <= value < 1; "
                f"found {self.load_slot_autocorr}"
            )
        if self.building_time_constant_h <= 0:
            raise ValueError(
                "ProfileModel.building_time_constant_h: expected > 0; "
                f"found {self.building_time_constant_h}"
            )


DEFAULT_PROFILE_MODEL = ProfileModel()

_STREAM_LOAD, _STREAM_SPACE, _STREAM_WATER = 1, 2, 3
_SLOTS_PER_DAY = int(dt.timedelta(days=1) / SLOT)


def _rng(seed: int, year: int, house_id: str, stream: int) -> np.random.Generator:
    """Independent, reproducible stream per (seed, year, house, quantity)."""
    return np.random.default_rng([seed, year, zlib.crc32(house_id.encode()), stream])


def _mean_one(rng: np.random.Generator, sigma: float, size: int) -> np.ndarray:
    """Lognormal factors with mean exactly one in expectation."""
    return np.exp(sigma * rng.standard_normal(size) - 0.5 * sigma**2)


def _scale_to(values: np.ndarray, annual_kwh: float) -> np.ndarray:
    """Scale a power series (kW per slot) so that its energy over the array is annual_kwh."""
    energy = values.sum() * SLOT_HOURS
    if energy <= 0:
        return np.zeros_like(values)
    return values * (annual_kwh / energy)


def _local_day_number(local: pd.DatetimeIndex) -> np.ndarray:
    """0-based index of the local calendar day of each slot."""
    days = np.asarray(local.normalize().tz_localize(None).asi8 // 86_400_000_000_000)
    return days - days[0]


@functools.lru_cache(maxsize=8)
def _h25_base(year: int, location: LocationConfig) -> np.ndarray:
    """H25 household profile (kW per 1 GWh/a) on the UTC slots of `year`, evaluated in local time."""
    utc = pd.date_range(
        pd.Timestamp(year=year, month=1, day=1, tz="UTC"),
        pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"),
        freq="15min",
        inclusive="left",
    )
    local = utc.tz_convert(location.timezone)
    public = holidays.country_holidays(
        location.holidays_country,
        subdiv=location.holidays_subdivision,
        years=[year - 1, year, year + 1],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Pandas4Warning)  # demandlib's own use of inplace=True
        return np.asarray(H25(local, holidays=list(public.keys())), dtype=float)


@functools.lru_cache(maxsize=8)
def _sun(latitude_deg: float, longitude_deg: float, altitude_m: float, year: int) -> pd.DataFrame:
    """Sun position at slot midpoints of `year`, plus extraterrestrial DNI."""
    utc = pd.date_range(
        pd.Timestamp(year=year, month=1, day=1, tz="UTC"),
        pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"),
        freq="15min",
        inclusive="left",
    )
    mid = utc + SLOT / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Pandas4Warning)  # pvlib's use of DatetimeIndex.dayofyear
        sun = pvlib.solarposition.get_solarposition(
            mid, latitude_deg, longitude_deg, altitude=altitude_m
        )
        sun["dni_extra"] = pvlib.irradiance.get_extra_radiation(mid).to_numpy()
    sun.index = utc
    return sun[["apparent_zenith", "azimuth", "dni_extra"]]


def pv_ac_power_kw(
    pv: PVConfig,
    weather: pd.DataFrame,
    sun: pd.DataFrame,
    model: ProfileModel = DEFAULT_PROFILE_MODEL,
) -> np.ndarray:
    """AC power (kW, >= 0) of one PV system per slot.

    weather: temp_outdoor_c, ghi/dni/dhi_w_per_m2, wind_speed_m_per_s; sun: apparent_zenith,
    azimuth [deg] and dni_extra [W/m2], both on the same index.
    """
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=pv.tilt_deg,
        surface_azimuth=pv.azimuth_deg,
        solar_zenith=sun["apparent_zenith"],
        solar_azimuth=sun["azimuth"],
        dni=weather["dni_w_per_m2"],
        ghi=weather["ghi_w_per_m2"],
        dhi=weather["dhi_w_per_m2"],
        dni_extra=sun["dni_extra"],
        albedo=model.pv_albedo,
        model="haydavies",
    )
    poa_global = np.nan_to_num(poa["poa_global"].to_numpy(dtype=float), nan=0.0).clip(min=0.0)
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][model.pv_cell_temperature_model]
    temp_cell = pvlib.temperature.sapm_cell(
        poa_global,
        weather["temp_outdoor_c"].to_numpy(),
        weather["wind_speed_m_per_s"].to_numpy(),
        **params,
    )
    dc_kw = pvlib.pvsystem.pvwatts_dc(poa_global, temp_cell, pv.peak_kw, pv.temp_coefficient_per_k)
    dc_kw = np.asarray(dc_kw, dtype=float) * (1.0 - pv.system_loss_frac)
    ac_kw = pvlib.inverter.pvwatts(dc_kw, pv.peak_kw, eta_inv_nom=pv.inverter_efficiency_frac)
    return np.nan_to_num(np.asarray(ac_kw, dtype=float), nan=0.0).clip(min=0.0)


def _shift_slots(rng: np.random.Generator, model: ProfileModel) -> int:
    return int(rng.integers(-model.load_shift_max_slots, model.load_shift_max_slots + 1))


def _household_load(
    house: HouseConfig, shape: np.ndarray, shift: int, factor: np.ndarray | float = 1.0
) -> np.ndarray:
    """A house's load: its unscaled shape shifted by `shift` slots, times the per-slot `factor`,
    scaled to the house's annual kWh over the array (one calendar year)."""
    return _scale_to(np.roll(shape, shift) * factor, house.annual_electricity_kwh)


def _h25_load(
    house: HouseConfig, base: np.ndarray, day: np.ndarray, seed: int, year: int, model: ProfileModel
) -> np.ndarray:
    rng = _rng(seed, year, house.id, _STREAM_LOAD)
    shift = _shift_slots(rng, model)
    day_factor = _mean_one(rng, model.load_day_sigma, int(day[-1]) + 1)[day]
    phi = model.load_slot_autocorr
    correlated = lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], rng.standard_normal(len(base)))
    sigma = model.load_slot_sigma
    slot_factor = np.exp(sigma * correlated - 0.5 * sigma**2)
    return _household_load(house, base, shift, day_factor * slot_factor)


def _synpro_load(
    house: HouseConfig,
    house_index: int,
    utc: pd.DatetimeIndex,
    location: LocationConfig,
    seed: int,
    year: int,
    model: ProfileModel,
) -> np.ndarray:
    """synPRO household of a seeded type; type and shift are the same every year, the week offset
    of the source days is drawn per year."""
    household_type = synpro_household_type(seed, house_index)
    week_offset = synpro_week_offset(seed, house_index, model.synpro_week_offset_max, year)
    shift = _shift_slots(_rng(seed, 0, house.id, _STREAM_LOAD), model)
    shape = synpro_load_w(utc, location, household_type, week_offset)
    return _household_load(house, shape, shift)


def _building_temperature(region: int, year: int, model: ProfileModel) -> np.ndarray:
    """Outdoor temperature low-pass filtered with the building's time constant (warm start)."""
    this_year = load_try_weather(region, year)["temp_outdoor_c"].to_numpy()
    warm_up = load_try_weather(region, year - 1)["temp_outdoor_c"].to_numpy()[-14 * 96 :]
    series = np.concatenate([warm_up, this_year])
    alpha = 1.0 - np.exp(-SLOT_HOURS / model.building_time_constant_h)
    filtered = lfilter([alpha], [1.0, alpha - 1.0], series, zi=[series[0] * (1 - alpha)])[0]
    return filtered[len(warm_up) :]


def _space_heat(
    house: HouseConfig,
    temp_building_c: np.ndarray,
    hour: np.ndarray,
    day: np.ndarray,
    seed: int,
    year: int,
    model: ProfileModel,
) -> np.ndarray:
    rng = _rng(seed, year, house.id, _STREAM_SPACE)
    degrees = np.maximum(house.heating_limit_temp_c - temp_building_c, 0.0)
    shape = np.asarray(model.space_heat_hourly_shape)[hour]
    noise = _mean_one(rng, model.space_heat_day_sigma, int(day[-1]) + 1)[day] * _mean_one(
        rng, model.space_heat_slot_sigma, len(hour)
    )
    return _scale_to(degrees * shape * noise, house.annual_space_heat_kwh)


def _hot_water(
    house: HouseConfig, hour: np.ndarray, day: np.ndarray, seed: int, year: int, model: ProfileModel
) -> np.ndarray:
    rng = _rng(seed, year, house.id, _STREAM_WATER)
    shape = np.asarray(model.hot_water_hourly_shape)[hour]
    noise = _mean_one(rng, model.hot_water_day_sigma, int(day[-1]) + 1)[day] * _mean_one(
        rng, model.hot_water_slot_sigma, len(hour)
    )
    return _scale_to(shape * noise, house.annual_hot_water_kwh)


@functools.lru_cache(maxsize=4)
def _year_profiles(config_json: str, year: int, seed: int, model: ProfileModel) -> pd.DataFrame:
    config = SiteConfig.model_validate_json(config_json)
    location = config.location
    weather = load_try_weather(location.weather_try_region, year)
    local = weather.index.tz_convert(location.timezone)
    hour = np.asarray(local.hour)
    day = _local_day_number(local)
    base = None if model.household_load == "synpro" else _h25_base(year, location)
    temp_building = _building_temperature(location.weather_try_region, year, model)
    sun = _sun(location.latitude_deg, location.longitude_deg, location.altitude_m, year)

    columns: dict[str, np.ndarray] = {name: weather[name].to_numpy() for name in WEATHER_COLUMNS}
    for index, house in enumerate(config.houses):
        if base is None:
            load = _synpro_load(house, index, weather.index, location, seed, year, model)
        else:
            load = _h25_load(house, base, day, seed, year, model)
        space = _space_heat(house, temp_building, hour, day, seed, year, model)
        water = _hot_water(house, hour, day, seed, year, model)
        columns[f"{house.id}:load_kw"] = load
        columns[f"{house.id}:heat_demand_kw"] = space + water
        columns[f"{house.id}:space_heat_kw"] = space
        columns[f"{house.id}:hot_water_kw"] = water
    for house in config.houses:
        if house.pv is not None:
            columns[f"{house.id}.pv:pv_kw"] = pv_ac_power_kw(house.pv, weather, sun, model)
    frame = pd.DataFrame(columns, index=weather.index)
    logger.debug("profiles for %s %d (seed %d): %d slots", config.id, year, seed, len(frame))
    return frame


def district_profiles(
    site: Site,
    start: dt.datetime | pd.Timestamp,
    end: dt.datetime | pd.Timestamp,
    seed: int = 0,
    model: ProfileModel = DEFAULT_PROFILE_MODEL,
) -> pd.DataFrame:
    """Slot-average profiles of the district on the 15-minute UTC grid [start, end).

    Columns: temp_outdoor_c, ghi_w_per_m2, dni_w_per_m2, dhi_w_per_m2, wind_speed_m_per_s; per
    house `<house>:load_kw`, `<house>:heat_demand_kw` (= space heat + hot water),
    `<house>:space_heat_kw`, `<house>:hot_water_kw`; per PV system `<house>.pv:pv_kw` (AC, >= 0).
    start and end must be timezone-aware and on slot boundaries. Any window of a longer request
    equals the shorter request for the same window (profiles are generated per calendar year).
    """
    grid = slot_grid(start, end)
    if len(grid) == 0:
        raise ValueError(
            f"empty profile window: start {as_utc(start).isoformat()} must be "
            f"before end {as_utc(end).isoformat()}"
        )
    config_json = site.config.model_dump_json()
    years = range(grid[0].year, grid[-1].year + 1)
    frames = [_year_profiles(config_json, year, seed, model) for year in years]
    joined = frames[0] if len(frames) == 1 else pd.concat(frames)
    result = joined.loc[grid[0] : grid[-1]].copy()
    result.index.name = "slot_start"
    return result
