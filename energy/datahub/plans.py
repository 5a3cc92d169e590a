"""The active plan and the forecast behind it, as district aggregates (never per house).

Plan series per slot (sign convention: import and charging positive):
planned_grid_power_kw = import - export at the connection point; planned_storage_power_kw, the sum
over every battery; planned_pv_power_kw and planned_heat_pump_power_kw, sums over the houses.
Forecast series: forecast_household_load_kw and forecast_pv_power_kw, sums of the houses' median
forecasts of the newest issue. The plan's detail carries its version, state, solver status and
times, not who decided it: operator names are personal data and stay inside.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from energy.datahub.records import Record
from energy.publication_config import PublicationKind
from energy.site import AssetKind, Site
from energy.store.engine import Store
from energy.store.forecasts import read_latest_forecast
from energy.store.plans import PlanRecord, read_plan_values

__all__ = ["forecast_record", "plan_record"]


def _sum(
    frame: pd.DataFrame, assets: list[str], quantity: str, slots: pd.DatetimeIndex
) -> pd.Series:
    mine = frame[frame["asset_id"].isin(assets) & (frame["quantity"] == quantity)]
    return mine.groupby("slot_start")["value"].sum().reindex(slots)


def _values(series: pd.Series) -> tuple[float | None, ...]:
    return tuple(None if not np.isfinite(v) else round(float(v), 4) for v in series.to_numpy(float))


def plan_record(site: Site, store: Store, plan: PlanRecord) -> Record:
    """The plan's district series (see module docstring)."""
    values = read_plan_values(store, plan.id)
    slots = pd.DatetimeIndex(sorted(values["slot_start"].unique()))
    ids = {kind: [a.id for a in site.of_kind(kind)] for kind in AssetKind}
    grid = _sum(values, ["grid"], "import_kw", slots).fillna(0.0) - _sum(
        values, ["grid"], "export_kw", slots
    ).fillna(0.0)
    series = {
        "planned_grid_power_kw": _values(grid),
        "planned_storage_power_kw": _values(
            _sum(values, ids[AssetKind.BATTERY], "power_kw", slots)
        ),
        "planned_pv_power_kw": _values(_sum(values, ids[AssetKind.PV], "power_kw", slots)),
        "planned_heat_pump_power_kw": _values(
            _sum(values, ids[AssetKind.HEAT_PUMP], "power_kw", slots)
        ),
    }
    return Record(
        PublicationKind.PLAN,
        None,
        plan.horizon_start,
        end=plan.horizon_end,
        slots=tuple(s.to_pydatetime() for s in slots),
        series=series,
        detail={
            "version": plan.version,
            "state": plan.state.value,
            "solver_status": plan.solver_status,
            "created_at": plan.created_at.isoformat(),
            "slot_minutes": plan.slot_minutes,
        },
    )


def forecast_record(site: Site, store: Store, at: dt.datetime) -> Record | None:
    """District sums of the newest median forecasts issued at or before `at` (None: none)."""
    parts: dict[str, list[pd.Series]] = {
        "forecast_household_load_kw": [],
        "forecast_pv_power_kw": [],
    }
    issues: list[pd.Timestamp] = []
    for house in site.houses:
        targets = [(f"{house.id}:load_kw", "forecast_household_load_kw")]
        if house.pv is not None:
            targets.append((f"{house.id}.pv:pv_kw", "forecast_pv_power_kw"))
        for target, name in targets:
            frame = read_latest_forecast(store, target, at)
            if frame.empty:
                continue
            median = frame[frame["quantile"] == 0.5]
            parts[name].append(median.groupby("valid_time")["value"].mean())
            issues.append(pd.Timestamp(median["issue_time"].max()))
    if not parts["forecast_household_load_kw"]:
        return None
    slots = pd.DatetimeIndex(
        sorted(set().union(*(s.index for s in parts["forecast_household_load_kw"])))
    )
    series = {
        name: _values(pd.concat(found, axis=1).reindex(slots).sum(axis=1, min_count=len(found)))
        for name, found in parts.items()
        if found
    }
    return Record(
        PublicationKind.FORECASTS,
        None,
        slots[0].to_pydatetime(),
        end=(slots[-1] + pd.Timedelta(minutes=15)).to_pydatetime(),
        slots=tuple(s.to_pydatetime() for s in slots),
        series=series,
        detail={"issue_time": max(issues).isoformat(), "quantile": 0.5},
    )
