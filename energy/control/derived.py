"""The house-level series the forecasters learn from, derived every slot from device measurements.

Forecasting works on a house's own demand, which no single meter shows. For each finished slot
[t, t + 15 min) and each house, from the slot averages of the polled device values (sign
convention: import and charging positive):

    load_kw        = house meter power - heat pump electric power + PV power - battery power
    heat_demand_kw = heat pump heat output - tank capacity x (T_end - T_start) / 0.25 h
                     - tank loss_w_per_k x (T_mean - ambient) / 1000          (at least 0)
    <house>.pv pv_kw = PV inverter power

and the weather actuals under the asset `weather`: the outdoor temperature as the mean the heat
pumps measure, irradiance from the site's weather feed for the finished slot. A value is derived
only when every device it needs has GOOD values in the slot (at least MIN_SAMPLES of them); a
slot with a stale device stays missing rather than becoming a wrong number. One exception: a PV
inverter silent while the sun is below the horizon for the whole slot is asleep and produces
0 kW; the house's load is derived with that 0 and stored with quality SUBSTITUTED (the PV series
itself is not invented). The rows follow the store convention of
`energy.control.history.store_history`, which the retrain job reads.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from energy.config import TankConfig
from energy.control.history import WEATHER_ASSET
from energy.quality import Quality
from energy.site import Site
from energy.solar import sun_is_down
from energy.store.engine import Store
from energy.store.measurements import read_series, write_measurements
from energy.thermal import tank_capacity_kwh_per_k
from energy.timegrid import SLOT, SLOT_HOURS, floor_slot

__all__ = ["DERIVED_QUANTITIES", "MIN_SAMPLES", "derive_slot", "is_derived", "store_derived_slot"]

log = logging.getLogger(__name__)

MIN_SAMPLES = 2
DERIVED_QUANTITIES = frozenset({"load_kw", "heat_demand_kw", "pv_kw"})
"""Quantities this module writes for houses and PV assets (every quantity of WEATHER_ASSET, too)."""
_IRRADIANCE = ("ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2")


def is_derived(asset_id: str, quantity: str) -> bool:
    """Is this series derived here once per slot (not polled from a device)? Its newest value is
    stamped with the start of a slot that finished at least a slot ago."""
    return asset_id == WEATHER_ASSET or quantity in DERIVED_QUANTITIES


def _good(store: Store, site: Site, asset_id: str, quantity: str, start: dt.datetime) -> pd.Series:
    frame = read_series(store, site.id, asset_id, quantity, start, start + SLOT)
    values = frame["value"][frame["quality"] == int(Quality.GOOD)].dropna()
    return values if len(values) >= MIN_SAMPLES else pd.Series(dtype=float)


def derive_slot(
    store: Store, site: Site, slot_start: dt.datetime, irradiance: pd.Series | None = None
) -> pd.DataFrame:
    """Derived rows (asset_id, quantity, time, value, quality) of one finished slot."""
    start = floor_slot(slot_start).to_pydatetime()
    rows: list[tuple[str, str, float, Quality]] = []
    outdoor: list[float] = []
    night = sun_is_down(site.config.location, start) and sun_is_down(
        site.config.location, start + SLOT
    )

    def mean(asset_id: str, quantity: str) -> float | None:
        values = _good(store, site, asset_id, quantity, start)
        return float(values.mean()) if len(values) else None

    for house in site.houses:
        meter = mean(f"{house.id}.meter", "power_kw") if house.meter else None
        pv = mean(f"{house.id}.pv", "power_kw") if house.pv and house.pv.device else 0.0
        battery = (
            mean(f"{house.id}.battery", "power_kw")
            if house.battery and house.battery.device
            else 0.0
        )
        hp_id = f"{house.id}.hp"
        hp = mean(hp_id, "electric_power_kw") if house.heat_pump and house.heat_pump.device else 0.0
        load_quality = Quality.GOOD
        if house.pv and house.pv.device and pv is not None:
            rows.append((f"{house.id}.pv", "pv_kw", max(pv, 0.0), Quality.GOOD))
        elif house.pv and house.pv.device and night:
            pv, load_quality = 0.0, Quality.SUBSTITUTED  # asleep: no sun, no power
        if None not in (meter, pv, battery, hp):
            load = meter - hp + pv - battery  # type: ignore[operator]
            rows.append((house.id, "load_kw", max(load, 0.0), load_quality))
        if house.heat_pump and house.heat_pump.device and house.tank is not None:
            demand = _heat_demand(store, site, hp_id, house.tank, start)
            if demand is not None:
                rows.append((house.id, "heat_demand_kw", demand, Quality.GOOD))
            temp = mean(hp_id, "temp_outdoor_c")
            if temp is not None:
                outdoor.append(temp)
    if outdoor:
        rows.append((WEATHER_ASSET, "temp_outdoor_c", float(np.mean(outdoor)), Quality.GOOD))
    if irradiance is not None:
        rows += [
            (WEATHER_ASSET, name, float(irradiance[name]), Quality.GOOD) for name in _IRRADIANCE
        ]
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "value", "quality"])
    frame["time"] = pd.Timestamp(start)
    frame["quality"] = frame["quality"].astype(int)
    return frame[["asset_id", "quantity", "time", "value", "quality"]]


def _heat_demand(
    store: Store, site: Site, hp_id: str, tank: TankConfig, start: dt.datetime
) -> float | None:
    heat = _good(store, site, hp_id, "heat_kw", start)
    temps = _good(store, site, hp_id, "tank_temp_c", start)
    if not len(heat) or not len(temps):
        return None
    capacity = tank_capacity_kwh_per_k(tank.volume_l)
    stored_kw = capacity * (float(temps.iloc[-1]) - float(temps.iloc[0])) / SLOT_HOURS
    loss_kw = tank.loss_w_per_k * (float(temps.mean()) - tank.ambient_temp_c) / 1000.0
    return max(float(heat.mean()) - stored_kw - loss_kw, 0.0)


def store_derived_slot(
    store: Store, site: Site, slot_start: dt.datetime, irradiance: pd.Series | None = None
) -> int:
    """Derive one finished slot and store it (rows already stored are kept); rows written."""
    frame = derive_slot(store, site, slot_start, irradiance)
    if frame.empty:
        return 0
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return write_measurements(store, site.id, frame)
