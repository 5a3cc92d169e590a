"""District aggregates and per-house values of a time window, from the polled device values.

From the GOOD device readings of a window [start, end) (sign convention: import and charging
positive):

    grid_power_kw        = grid meter power (mean)
    pv_power_kw          = sum of the PV inverters' power
    storage_power_kw     = sum of every battery's power (house and community)
    consumption_power_kw = grid + PV - storage          (household load + heat pumps + EV charging)
    storage_soc_frac     = capacity-weighted state of charge; storage_energy_kwh the energy

the meter's own import and export counters at the window's end (grid_import_total_kwh,
grid_export_total_kwh), and over the window the energies grid_import_kwh / grid_export_kwh (from each reading's sign,
so a window that both imports and exports counts both), pv_energy_kwh, consumption_kwh, the
self-sufficiency (autarky) 1 - import / consumption, the self-consumption 1 - export / PV and
co2_kg = grid import x the grid emission factor of the slot.

A district value is computed only when every device it needs answered GOOD in the window; a
window with the grid meter silent yields no district record rather than a wrong one.

Every finished slot's district energies are also stored (asset `district`, see
`store_district_slot`): the day and month KPIs and the open-data export sum those rows.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
from sqlalchemy import select

from energy.datahub.records import Record
from energy.publication_config import PublicationKind
from energy.quality import Quality
from energy.site import Site
from energy.store.engine import Store
from energy.store.measurements import write_measurements
from energy.store.schema import measurements, series
from energy.tariff import tariff_series
from energy.timegrid import SLOT, floor_slot

__all__ = [
    "DISTRICT_ASSET",
    "SLOT_QUANTITIES",
    "district_values",
    "house_records",
    "read_window",
    "store_district_slot",
    "window_records",
]

log = logging.getLogger(__name__)

DISTRICT_ASSET = "district"
#: the per-slot district rows stored for the KPIs (energies of the slot and the end state)
SLOT_QUANTITIES = (
    "grid_import_kwh",
    "grid_export_kwh",
    "pv_energy_kwh",
    "consumption_kwh",
    "co2_kg",
    "storage_soc_frac",
)


def read_window(store: Store, site_id: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """GOOD readings of every series of the site in [start, end): asset_id, quantity, time, value."""
    query = (
        select(series.c.asset_id, series.c.quantity, measurements.c.time, measurements.c.value)
        .join(series, series.c.id == measurements.c.series_id)
        .where(
            series.c.site_id == site_id,
            measurements.c.time >= start,
            measurements.c.time < end,
            measurements.c.quality == int(Quality.GOOD),
            series.c.asset_id != DISTRICT_ASSET,
        )
        .order_by(measurements.c.time)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value"])
    return frame.dropna(subset=["value"])


def _batteries(site: Site) -> list[tuple[str, float]]:
    """(asset id, capacity_kwh) of every battery with a device."""
    out = [
        (f"{h.id}.battery", h.battery.capacity_kwh)
        for h in site.houses
        if h.battery is not None and h.battery.device is not None
    ]
    out += [(b.id, b.capacity_kwh) for b in site.config.community_batteries if b.device]
    return out


def _pv_ids(site: Site) -> list[str]:
    return [f"{h.id}.pv" for h in site.houses if h.pv is not None and h.pv.device is not None]


_CO2_DAYS: dict[tuple[str, pd.Timestamp], pd.Series] = {}


def _co2_g_per_kwh(site: Site, slot: pd.Timestamp) -> float:
    """The grid emission factor of a slot (tariff co2 series or constant), cached per UTC day:
    loading the series file per minute would cost more than the rest of the aggregation."""
    day = slot.floor("D")
    key = (site.id, day)
    if key not in _CO2_DAYS:
        if len(_CO2_DAYS) > 8:
            _CO2_DAYS.clear()
        index = pd.date_range(day, periods=96, freq=SLOT)
        _CO2_DAYS[key] = tariff_series(site.config, index).co2_g_per_kwh
    value = float(_CO2_DAYS[key].get(slot, np.nan))
    return value if np.isfinite(value) else 0.0


def district_values(
    site: Site, frame: pd.DataFrame, start: dt.datetime, end: dt.datetime
) -> dict[str, float] | None:
    """District aggregates of a window (see module docstring); None without the grid meter."""
    groups = {
        key: g["value"].to_numpy(dtype=float) for key, g in frame.groupby(["asset_id", "quantity"])
    }
    hours = (end - start).total_seconds() / 3600.0
    grid = groups.get(("grid.meter", "power_kw"))
    pvs = [groups.get((pv, "power_kw")) for pv in _pv_ids(site)]
    batteries = _batteries(site)
    powers = [groups.get((b, "power_kw")) for b, _ in batteries]
    socs = [groups.get((b, "soc_frac")) for b, _ in batteries]
    if grid is None or any(x is None or not len(x) for x in (*pvs, *powers)):
        return None
    grid_kw = float(grid.mean())
    pv_kw = float(sum(float(np.maximum(p, 0.0).mean()) for p in pvs if p is not None))
    storage_kw = float(sum(float(p.mean()) for p in powers if p is not None))
    consumption_kw = max(grid_kw + pv_kw - storage_kw, 0.0)
    imp = float(np.maximum(grid, 0.0).mean()) * hours
    exp = float(np.maximum(-grid, 0.0).mean()) * hours
    pv_kwh = pv_kw * hours
    consumption_kwh = consumption_kw * hours
    co2 = _co2_g_per_kwh(site, floor_slot(start))
    values: dict[str, float] = {
        "grid_power_kw": grid_kw,
        "grid_import_kwh": imp,
        "grid_export_kwh": exp,
        "pv_power_kw": pv_kw,
        "pv_energy_kwh": pv_kwh,
        "storage_power_kw": storage_kw,
        "consumption_power_kw": consumption_kw,
        "consumption_kwh": consumption_kwh,
        "co2_kg": imp * co2 / 1000.0,
        "co2_intensity_g_per_kwh": co2,
    }
    if consumption_kwh > 0:
        values["self_sufficiency_frac"] = float(np.clip(1.0 - imp / consumption_kwh, 0.0, 1.0))
    if pv_kwh > 0:
        values["self_consumption_frac"] = float(np.clip(1.0 - exp / pv_kwh, 0.0, 1.0))
    for name, quantity in (
        ("grid_import_total_kwh", "import_kwh"),
        ("grid_export_total_kwh", "export_kwh"),
    ):
        counter = groups.get(("grid.meter", quantity))
        if counter is not None and len(counter):
            values[name] = float(counter[-1])
    last_socs = [float(s[-1]) for s in socs if s is not None and len(s)]
    if socs and len(last_socs) == len(socs):
        energy = float(sum(s * cap for s, (_, cap) in zip(last_socs, batteries, strict=True)))
        values["storage_energy_kwh"] = energy
        values["storage_soc_frac"] = energy / sum(cap for _, cap in batteries)
    return values


#: per-house published quantity -> (asset suffix, stored quantity)
_HOUSE_SOURCES = {
    "meter_power_kw": ("meter", "power_kw"),
    "pv_power_kw": ("pv", "power_kw"),
    "battery_soc_frac": ("battery", "soc_frac"),
    "battery_power_kw": ("battery", "power_kw"),
    "heat_pump_power_kw": ("hp", "electric_power_kw"),
}


def house_records(
    site: Site, frame: pd.DataFrame, start: dt.datetime, end: dt.datetime
) -> list[Record]:
    """One measurement record per house with its window means (the privacy filter decides
    which of them, and which values, may leave)."""
    means = frame.groupby(["asset_id", "quantity"])["value"].mean()
    out = []
    for house in site.houses:
        values = {
            name: float(means[(f"{house.id}.{suffix}", quantity)])
            for name, (suffix, quantity) in _HOUSE_SOURCES.items()
            if (f"{house.id}.{suffix}", quantity) in means.index
        }
        if values:
            out.append(Record(PublicationKind.MEASUREMENTS, house.id, start, values, end=end))
    return out


def window_records(
    site: Site, frame: pd.DataFrame, start: dt.datetime, end: dt.datetime
) -> list[Record]:
    """The district record (when computable) and the house records of a window."""
    out: list[Record] = []
    values = district_values(site, frame, start, end)
    if values is not None:
        out.append(Record(PublicationKind.MEASUREMENTS, None, start, values, end=end))
    weather = frame[frame["quantity"] == "temp_outdoor_c"]
    if not weather.empty:
        out.append(
            Record(
                PublicationKind.WEATHER,
                None,
                start,
                {"temp_outdoor_c": float(weather["value"].mean())},
                end=end,
            )
        )
    return out + house_records(site, frame, start, end)


def store_district_slot(store: Store, site: Site, slot_start: dt.datetime) -> int:
    """Compute and store the district rows of one finished slot (rows already stored are
    kept); 0 when the grid meter or a PV/battery device gave nothing GOOD in the slot."""
    start = floor_slot(slot_start).to_pydatetime()
    end = start + SLOT
    values = district_values(site, read_window(store, site.id, start, end), start, end)
    if values is None:
        return 0
    rows = [
        (DISTRICT_ASSET, q, start, values[q], int(Quality.GOOD))
        for q in SLOT_QUANTITIES
        if q in values
    ]
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return write_measurements(store, site.id, frame)
