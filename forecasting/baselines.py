"""Baselines a German utility knows, as first-class forecasters reported in every evaluation.

Each baseline is fitted on history known at the first issue and then predicts the valid times of
one issue from data known at that issue time only:

- `persistence`: the same slot on the most recent day that is complete at issue time (yesterday
  for leads up to 24 h, the day before for longer leads);
- `seasonal_naive`: the same slot one week earlier (two weeks if the week-old slot is not yet known);
- `bdew_h25` / `bdew_h0`: the BDEW household standard load profile (2025 H25 via demandlib, or the
  classic dynamised H0 from demandlib's profile table) in local time with the site's public holidays
  as Sundays, scaled to the annual demand (configured, else estimated from the history);
- `bdew_heat`: the BDEW gas/heat standard profile SigLinDe (demandlib HeatBuilding, EFH) driven by
  the temperature known at issue plus the temperature forecast, with its customer value (kWh per
  unit profile) fitted on the history's energy, as utilities do from metered consumption;
- `smart_persistence`: PV from the clear-sky index of the last 24 h before issue times the clear-sky
  PVWatts estimate of the plants at the valid times.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from demandlib.bdew import HeatBuilding

from energy.config import LocationConfig
from energy.timegrid import SLOT, SLOT_HOURS
from forecasting.calendar import holiday_dates
from forecasting.features import pv_estimate_kw, solar_geometry
from forecasting.slp import h0_profile, h25_profile, quiet_demandlib
from forecasting.targets import Target, TargetKind

__all__ = [
    "BASELINES_BY_KIND",
    "Baseline",
    "BdewElectricProfile",
    "BdewHeatProfile",
    "Persistence",
    "SeasonalNaive",
    "SmartPersistence",
    "make_baselines",
]

log = logging.getLogger(__name__)

HOURS_PER_YEAR = 8760.0


@dataclass
class Baseline:
    """A point forecaster. `fit` sees the history before the first issue; `predict` one issue."""

    target: Target
    location: LocationConfig
    name: str = field(init=False, default="baseline")

    def fit(self, history: pd.Series, weather: pd.DataFrame) -> Baseline:
        return self

    def predict(
        self,
        issue_time: pd.Timestamp,
        valid: pd.DatetimeIndex,
        history: pd.Series,
        weather: pd.DataFrame,
    ) -> np.ndarray:
        raise NotImplementedError


def _known_lag(issue_time: pd.Timestamp, valid: pd.DatetimeIndex, period: dt.timedelta) -> pd.Index:
    """For each valid time, the same slot k periods earlier with the smallest k known at issue."""
    lead = (valid + SLOT - issue_time) / pd.Timedelta(period)
    periods = np.maximum(1, np.ceil(np.asarray(lead, dtype=float))).astype(int)
    return valid - pd.to_timedelta(periods * pd.Timedelta(period).value, unit="ns")


@dataclass
class Persistence(Baseline):
    name: str = field(init=False, default="persistence")

    def predict(
        self,
        issue_time: pd.Timestamp,
        valid: pd.DatetimeIndex,
        history: pd.Series,
        weather: pd.DataFrame,
    ) -> np.ndarray:
        source = _known_lag(issue_time, valid, dt.timedelta(days=1))
        return history.reindex(source).to_numpy(dtype=float)


@dataclass
class SeasonalNaive(Baseline):
    name: str = field(init=False, default="seasonal_naive")

    def predict(
        self,
        issue_time: pd.Timestamp,
        valid: pd.DatetimeIndex,
        history: pd.Series,
        weather: pd.DataFrame,
    ) -> np.ndarray:
        source = _known_lag(issue_time, valid, dt.timedelta(days=7))
        return history.reindex(source).to_numpy(dtype=float)


def _annual_kwh(target: Target, history: pd.Series) -> float:
    if target.annual_kwh:
        return float(target.annual_kwh)
    known = history.dropna()
    if known.empty:
        raise ValueError(f"target {target.name}: no annual demand configured and no history")
    return float(known.mean()) * HOURS_PER_YEAR


@dataclass
class BdewElectricProfile(Baseline):
    profile: str = "H25"
    name: str = field(init=False, default="bdew")

    def __post_init__(self) -> None:
        if self.profile not in ("H25", "H0"):
            raise ValueError(f"BDEW electric profile must be 'H25' or 'H0'; found {self.profile!r}")
        self.name = f"bdew_{self.profile.lower()}"

    def fit(self, history: pd.Series, weather: pd.DataFrame) -> BdewElectricProfile:
        self.annual_kwh_ = _annual_kwh(self.target, history)
        return self

    def predict(
        self,
        issue_time: pd.Timestamp,
        valid: pd.DatetimeIndex,
        history: pd.Series,
        weather: pd.DataFrame,
    ) -> np.ndarray:
        if self.profile == "H25":
            return h25_profile(valid, self.location) * self.annual_kwh_ / 1e6
        return h0_profile(valid, self.location) * self.annual_kwh_ / HOURS_PER_YEAR


@dataclass
class BdewHeatProfile(Baseline):
    """SigLinDe heat profile. building_class/wind_class follow demandlib's EFH classification."""

    shlp_type: str = "EFH"
    building_class: int = 3
    wind_class: int = 0
    name: str = field(init=False, default="bdew_heat")

    def _shape_kw(self, hours_utc: pd.DatetimeIndex, temp_c: np.ndarray) -> np.ndarray:
        """h(T) x F(weekday) x SF(hour): the un-normalised SigLinDe profile per hour."""
        local = hours_utc.tz_convert(self.location.timezone)
        years = tuple(range(int(local.year.min()) - 1, int(local.year.max()) + 2))
        public = holiday_dates(
            self.location.holidays_country, self.location.holidays_subdivision, years
        )
        with quiet_demandlib():
            return self._shape_with(local, public, temp_c)

    def _shape_with(
        self, local: pd.DatetimeIndex, public: frozenset, temp_c: np.ndarray
    ) -> np.ndarray:
        building = HeatBuilding(
            local,
            holidays={d: "holiday" for d in public},
            temperature=pd.Series(temp_c, index=local),
            shlp_type=self.shlp_type,
            building_class=self.building_class,
            wind_class=self.wind_class,
            annual_heat_demand=1.0,
            ww_incl=True,
        )
        normalised = building.get_normalized_bdew_profile().to_numpy(dtype=float)
        a, b, c, d = building.get_sigmoid_parameters()
        h = a / (1 + (b / (building.df["temperature_geo"].to_numpy() - 40)) ** c) + d
        f = building.get_weekday_parameters()
        window_factor = 1.0 / (np.sum(h * f) / 24)
        return normalised / window_factor

    def _hourly(
        self, start: pd.Timestamp, end: pd.Timestamp, temp: pd.Series
    ) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Shape per UTC hour in [start, end), with 3 days of temperature before for the
        geometric-series day temperature (demandlib rolls whole days)."""
        warm = start.floor("h") - pd.Timedelta(days=3)
        hours = pd.date_range(warm, end.ceil("h"), freq="h", inclusive="left")
        hourly_temp = temp.resample("h").mean().reindex(hours).interpolate(limit_direction="both")
        shape = self._shape_kw(hours, hourly_temp.to_numpy(dtype=float))
        keep = hours >= start.floor("h")
        return hours[keep], shape[keep]

    def fit(self, history: pd.Series, weather: pd.DataFrame) -> BdewHeatProfile:
        known = history.dropna()
        if known.empty:
            raise ValueError(f"target {self.target.name}: the heat baseline needs history")
        hours, shape = self._hourly(
            known.index[0], known.index[-1] + SLOT, weather["temp_outdoor_c"]
        )
        energy_kwh = float(known.sum()) * SLOT_HOURS
        profile_kwh = float(shape.sum()) * len(known) * SLOT_HOURS / max(len(hours), 1)
        self.customer_value_ = energy_kwh / profile_kwh if profile_kwh > 0 else 0.0
        return self

    def predict(
        self,
        issue_time: pd.Timestamp,
        valid: pd.DatetimeIndex,
        history: pd.Series,
        weather: pd.DataFrame,
    ) -> np.ndarray:
        hours, shape = self._hourly(valid[0], valid[-1] + SLOT, weather["temp_outdoor_c"])
        per_hour = pd.Series(shape * self.customer_value_, index=hours)
        return per_hour.reindex(valid.floor("h")).to_numpy(dtype=float)


@dataclass
class SmartPersistence(Baseline):
    """PV: clear-sky index of the last `window_h` hours before issue x clear-sky estimate."""

    window_h: float = 24.0
    name: str = field(init=False, default="smart_persistence")

    def _clear_kw(self, index: pd.DatetimeIndex, temp_c: np.ndarray) -> np.ndarray:
        geo = solar_geometry(index, self.location)
        return pv_estimate_kw(
            self.target.pv_systems,
            geo,
            geo["clearsky_ghi_w_per_m2"].to_numpy(),
            geo["clearsky_dni_w_per_m2"].to_numpy(),
            geo["clearsky_dhi_w_per_m2"].to_numpy(),
            temp_c,
        )

    def predict(
        self,
        issue_time: pd.Timestamp,
        valid: pd.DatetimeIndex,
        history: pd.Series,
        weather: pd.DataFrame,
    ) -> np.ndarray:
        window = pd.date_range(
            issue_time - pd.Timedelta(hours=self.window_h), issue_time, freq=SLOT, inclusive="left"
        )
        past = history.reindex(window).to_numpy(dtype=float)
        past_temp = weather["temp_outdoor_c"].reindex(window).interpolate(limit_direction="both")
        clear_past = self._clear_kw(window, np.nan_to_num(past_temp.to_numpy(), nan=10.0))
        usable = np.isfinite(past) & (clear_past > 0)
        denominator = clear_past[usable].sum()
        index = past[usable].sum() / denominator if denominator > 0 else 1.0
        temp = weather["temp_outdoor_c"].reindex(valid).interpolate(limit_direction="both")
        return index * self._clear_kw(valid, np.nan_to_num(temp.to_numpy(), nan=10.0))


BASELINES_BY_KIND: dict[TargetKind, tuple[str, ...]] = {
    TargetKind.LOAD: ("persistence", "seasonal_naive", "bdew_h25", "bdew_h0"),
    TargetKind.HEAT: ("persistence", "seasonal_naive", "bdew_heat"),
    TargetKind.PV: ("persistence", "seasonal_naive", "smart_persistence"),
}


def make_baselines(target: Target, location: LocationConfig) -> list[Baseline]:
    """The baselines reported for a target's kind, in a stable order."""
    made: list[Baseline] = []
    for name in BASELINES_BY_KIND[target.kind]:
        if name == "persistence":
            made.append(Persistence(target, location))
        elif name == "seasonal_naive":
            made.append(SeasonalNaive(target, location))
        elif name == "bdew_heat":
            made.append(BdewHeatProfile(target, location))
        elif name in ("bdew_h25", "bdew_h0"):
            made.append(BdewElectricProfile(target, location, profile=name[5:].upper()))
        elif name == "smart_persistence":
            made.append(SmartPersistence(target, location))
    return made
