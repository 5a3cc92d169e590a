"""Plan tracking: what the plan's slot said each device kind would use against what it metered.

A plan is worth what the plant does with it. Per slot in which a plan was in force, the energy of
the plan's values at that slot (continuous heat pumps, SG Ready heat pumps, house batteries and
community batteries; batteries as net AC energy, charging positive; the district's exchange at the
grid connection, import positive) is set against the same quantity from the simulator's counters
over the slot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.physics.district import GRID_METER_ID
from energy.physics.readings import DistrictSnapshot
from energy.timegrid import SLOT_HOURS
from optimizer import GRID_ID
from optimizer.plant import Plant

__all__ = ["TRACKED_KINDS", "PlanTracker", "plan_tracking"]

FloatArray = npt.NDArray[np.float64]

#: Device kinds whose plan and meters are compared, in column order.
TRACKED_KINDS = (
    "heat_pump_continuous",
    "heat_pump_sg_ready",
    "battery_house",
    "battery_community",
    "ev_charger",
    "grid_exchange",
)


class PlanTracker:
    """Per-slot planned and metered energy per device kind (kWh) for one plant."""

    def __init__(self, plant: Plant):
        self._members: list[list[tuple[str, str]]] = [[] for _ in TRACKED_KINDS]
        for hp in plant.heat_pumps:
            self._members[1 if hp.sg_ready else 0].append((hp.id, "heat_pump"))
        for battery in plant.batteries:
            kind = 2 if battery.house_id is not None else 3
            self._members[kind].append((battery.id, "battery"))
        for charger in plant.ev_chargers:
            self._members[4].append((charger.id, "ev_charger"))
        self._members[5].append((GRID_ID, "grid"))

    def planned_kwh(self, plan_values: dict[tuple[str, str], float] | None) -> FloatArray:
        """Planned energy per kind for one slot from the plan's values there (NaN: no plan)."""
        if plan_values is None:
            return np.full(len(TRACKED_KINDS), np.nan)
        return np.array(
            [
                SLOT_HOURS * sum(_planned_kw(plan_values, asset, what) for asset, what in members)
                for members in self._members
            ]
        )

    def counters_kwh(self, snapshot: DistrictSnapshot) -> FloatArray:
        """Cumulative metered energy per kind (heat pump electricity; battery charged minus
        discharged; EV charging; grid import minus export)."""
        out = np.zeros(len(TRACKED_KINDS))
        for k, members in enumerate(self._members):
            for asset, what in members:
                if what == "heat_pump":
                    out[k] += snapshot.heat_pumps[asset].electric_kwh
                elif what == "ev_charger":
                    out[k] += snapshot.ev_chargers[asset].energy_kwh
                elif what == "grid":
                    meter = snapshot.meters[GRID_METER_ID]
                    out[k] += meter.import_kwh - meter.export_kwh
                else:
                    reading = snapshot.batteries[asset]
                    out[k] += reading.charged_kwh - reading.discharged_kwh
        return out


def _planned_kw(values: dict[tuple[str, str], float], asset: str, what: str) -> float:
    if what == "grid":
        return values.get((asset, "import_kw"), 0.0) - values.get((asset, "export_kw"), 0.0)
    return values.get((asset, "power_kw"), 0.0)


def plan_tracking(slots: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per kind over the slots with a plan: planned and metered kWh, and the mean absolute
    deviation per slot (kWh); absolute sums for batteries, whose net energy can cancel out.
    Kinds the site has no device of plan and meter 0 kWh."""
    out: dict[str, dict[str, Any]] = {}
    for kind in TRACKED_KINDS:
        planned_col, metered_col = f"planned_{kind}_kwh", f"metered_{kind}_kwh"
        if planned_col not in slots.columns:
            continue
        planned = slots[planned_col].to_numpy(dtype=float)
        metered = slots[metered_col].to_numpy(dtype=float)
        covered = np.isfinite(planned)
        if not covered.any():
            continue
        planned, metered = planned[covered], metered[covered]
        out[kind] = {
            "slots": int(covered.sum()),
            "planned_kwh": float(planned.sum()),
            "metered_kwh": float(metered.sum()),
            "planned_abs_kwh": float(np.abs(planned).sum()),
            "metered_abs_kwh": float(np.abs(metered).sum()),
            "mean_abs_deviation_kwh_per_slot": float(np.abs(metered - planned).mean()),
        }
    return out
