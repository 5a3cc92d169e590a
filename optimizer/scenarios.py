"""Reproducible synthetic inputs for a site: for benchmarks, examples and smoke runs.

Shapes are plausible (a day-night price swing, a midday PV bell, morning and evening load peaks,
heat demand rising as it gets colder) and scaled from the site configuration; they are not
forecasts. Real runs take their inputs from the forecasting jobs or an INPUTS.csv.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from energy.site import Site
from energy.timegrid import SLOT, as_utc
from optimizer.inputs import DispatchInputs
from optimizer.plant import Plant

__all__ = ["synthetic_inputs"]

HOURS_PER_YEAR = 8760.0
#: Hours per year a heating system runs at its design heat demand (a common rule of thumb).
FULL_LOAD_HEATING_HOURS = 2000.0


def synthetic_inputs(
    site: Site,
    start: dt.datetime | pd.Timestamp,
    n_slots: int,
    *,
    seed: int = 0,
    import_base_eur_per_kwh: float = 0.30,
    import_swing_eur_per_kwh: float = 0.10,
    export_eur_per_kwh: float | None = None,
) -> DispatchInputs:
    """Synthetic inputs for n_slots from start (UTC-aware); the same seed gives the same inputs."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(as_utc(start), periods=n_slots, freq=SLOT, name="slot_start")
    local = index.tz_convert(site.tz)
    hour = np.asarray(local.hour + local.minute / 60.0, dtype=float)
    day = np.asarray(local.day_of_year, dtype=float)
    evening = np.exp(-((hour - 19.0) ** 2) / 6.0)
    morning = np.exp(-((hour - 7.5) ** 2) / 3.0)
    price = (
        import_base_eur_per_kwh
        + import_swing_eur_per_kwh * (evening + 0.6 * morning - 0.5)
        + 0.01 * rng.standard_normal(n_slots)
    )
    temp = (
        10.0
        - 9.0 * np.cos(2 * np.pi * (day - 20.0) / 365.0)
        + 3.0 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
        + 0.5 * rng.standard_normal(n_slots)
    )
    season = 0.55 + 0.45 * np.cos(2 * np.pi * (day - 172.0) / 365.0)
    sun = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None) * season
    plant = Plant.from_site(site)
    houses = {h.id: h for h in site.config.houses}
    load = {}
    heat = {}
    for house_id in plant.houses:
        house = houses[house_id]
        mean_kw = house.annual_electricity_kwh / HOURS_PER_YEAR
        shape = 0.6 + 0.8 * morning + 1.2 * evening
        load[house_id] = mean_kw * shape * rng.uniform(0.8, 1.2, n_slots)
    for house_id in plant.tank_houses:
        house = houses[house_id]
        design_kw = house.annual_space_heat_kwh / FULL_LOAD_HEATING_HOURS
        space = design_kw * np.clip((15.0 - temp) / 27.0, 0.0, None)
        water = house.annual_hot_water_kwh / HOURS_PER_YEAR * (0.4 + 1.5 * morning + evening)
        heat[house_id] = space + water
    pv = {
        u.id: u.config.peak_kw
        * (1.0 - u.config.system_loss_frac)
        * sun
        * rng.uniform(0.7, 1.0, n_slots)
        for u in plant.pvs
    }
    feed_in = (
        site.config.tariff.feed_in_eur_per_kwh if export_eur_per_kwh is None else export_eur_per_kwh
    )
    return DispatchInputs(
        index=index,
        price_import_eur_per_kwh=price,
        price_export_eur_per_kwh=np.full(n_slots, feed_in),
        temp_outdoor_c=temp,
        load_kw=load,
        pv_kw=pv,
        heat_demand_kw=heat,
    )
