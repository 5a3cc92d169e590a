"""District KPIs per local day or month, from the stored per-slot district rows.

Sums of the slot energies (grid import and export, PV, consumption, CO2 of the import) and the
ratios computed from the sums, never averaged ratios: self_sufficiency_frac = 1 - import /
consumption (autarky), self_consumption_frac = 1 - export / PV. coverage_frac is the share of the
period's quarter hours that had a district row (a day of 92, 96 or 100 quarter hours on the DST
days); a period with gaps is reported with its coverage, not extrapolated.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Literal

import numpy as np
import pandas as pd

from energy.datahub.district import DISTRICT_ASSET, SLOT_QUANTITIES
from energy.datahub.records import Record
from energy.publication_config import PublicationKind
from energy.site import Site
from energy.store.engine import Store
from energy.store.measurements import read_series
from energy.timegrid import SLOT

__all__ = ["KPI_COLUMNS", "kpi_records", "period_kpis", "read_district_slots"]

KPI_COLUMNS = (
    "grid_import_kwh",
    "grid_export_kwh",
    "pv_energy_kwh",
    "consumption_kwh",
    "self_sufficiency_frac",
    "self_consumption_frac",
    "co2_kg",
    "coverage_frac",
)
_ENERGIES = ("grid_import_kwh", "grid_export_kwh", "pv_energy_kwh", "consumption_kwh", "co2_kg")


def read_district_slots(
    store: Store, site: Site, start: dt.datetime, end: dt.datetime
) -> pd.DataFrame:
    """Wide frame of the stored district slot rows in [start, end): index slot start (UTC)."""
    columns = {}
    for quantity in SLOT_QUANTITIES:
        frame = read_series(store, site.id, DISTRICT_ASSET, quantity, start, end)
        columns[quantity] = frame["value"]
    return pd.DataFrame(columns).sort_index()


def _ratio(numerator: float, denominator: float) -> float:
    return (
        float(np.clip(1.0 - numerator / denominator, 0.0, 1.0)) if denominator > 0 else float("nan")
    )


def period_kpis(
    slots: pd.DataFrame,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    period: Literal["day", "month"],
) -> pd.DataFrame:
    """One row per local day or month of [start, end) with KPI_COLUMNS; index the period's
    local start (aware), column `period_end` its end."""
    tz = site.tz
    local_start = pd.Timestamp(start).tz_convert(tz)
    local_end = pd.Timestamp(end).tz_convert(tz)
    first = local_start.normalize()
    if period == "month":
        first = first.replace(day=1)
    step = pd.DateOffset(days=1) if period == "day" else pd.DateOffset(months=1)
    bounds = [first]
    while bounds[-1] < local_end:
        bounds.append(bounds[-1] + step)  # calendar steps: a DST day is 23 or 25 hours
    rows = []
    for lo, hi in itertools.pairwise(bounds):
        lo_c, hi_c = max(lo, local_start), min(hi, local_end)
        if lo_c >= hi_c:
            continue
        part = slots[(slots.index >= lo_c) & (slots.index < hi_c)]
        sums = {q: float(part[q].sum()) if q in part else 0.0 for q in _ENERGIES}
        expected = len(
            pd.date_range(
                lo_c.tz_convert("UTC"), hi_c.tz_convert("UTC"), freq=SLOT, inclusive="left"
            )
        )
        rows.append(
            {
                "period_start": lo_c,
                "period_end": hi_c,
                **sums,
                "self_sufficiency_frac": _ratio(sums["grid_import_kwh"], sums["consumption_kwh"]),
                "self_consumption_frac": _ratio(sums["grid_export_kwh"], sums["pv_energy_kwh"]),
                "coverage_frac": part["grid_import_kwh"].notna().sum() / expected
                if "grid_import_kwh" in part and expected
                else 0.0,
            }
        )
    frame = pd.DataFrame(rows, columns=["period_start", "period_end", *KPI_COLUMNS])
    return frame.set_index("period_start")


def kpi_records(kpis: pd.DataFrame, period: str) -> list[Record]:
    """KPI rows as records (kind KPIS, district)."""
    out = []
    for start, row in kpis.iterrows():
        values = {c: (None if pd.isna(row[c]) else round(float(row[c]), 4)) for c in KPI_COLUMNS}
        out.append(
            Record(
                PublicationKind.KPIS,
                None,
                pd.Timestamp(start).tz_convert("UTC").to_pydatetime(),
                values,
                end=pd.Timestamp(row["period_end"]).tz_convert("UTC").to_pydatetime(),
                detail={"period": period},
            )
        )
    return out
