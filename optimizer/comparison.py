"""What a plan is worth against local control: the same horizon, forecast and starting state run
by the devices' own controllers (batteries on self-consumption, heat pumps on their thermostat,
as optimizer.rules models them), costed by the same evaluation as the plan.

The total is exact within the model (the difference of the two objectives). Per device the figure
is the grid price effect of its changed schedule: the change of its power in every slot times the
price of the marginal kWh there (the import price where either imports, else the export price).
It leaves out what energy left in a store at the horizon's end is worth, so the devices' figures
need not add up to the total.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from energy.site import AssetKind, Site
from energy.timegrid import SLOT_HOURS
from optimizer.dispatch import rule_based_plan
from optimizer.inputs import DispatchInputs, DispatchState
from optimizer.result import GRID_ID, DispatchResult

__all__ = ["compare_with_local_control"]

log = logging.getLogger(__name__)

_TOTALS = ("objective_eur", "net_energy_cost_eur", "import_kwh", "export_kwh", "peak_import_kw")
_IMPORTING_KW = 1e-6


def compare_with_local_control(
    site: Site, inputs: DispatchInputs, state: DispatchState, planned: DispatchResult
) -> dict[str, Any]:
    """JSON-ready comparison of `planned` with local control (see the module docstring)."""
    local = rule_based_plan(site, inputs, state)
    local_costs = local.summary.cost_breakdown
    plan_costs = planned.summary.cost_breakdown
    importing = (planned.values[(GRID_ID, "import_kw")] > _IMPORTING_KW) | (
        local.values[(GRID_ID, "import_kw")] > _IMPORTING_KW
    )
    price = np.where(importing, inputs.price_import_eur_per_kwh, inputs.price_export_eur_per_kwh)
    assets: dict[str, dict[str, float]] = {}
    for (asset_id, quantity), power in planned.values.items():
        if quantity != "power_kw" or (asset_id, quantity) not in local.values:
            continue
        local_power = local.values[(asset_id, quantity)]
        change = np.asarray(power, dtype=float) - np.asarray(local_power, dtype=float)
        # consumers (battery charging, heat pumps) draw with positive power, PV feeds in with it
        drawn = -change if site.asset(asset_id).kind is AssetKind.PV else change
        assets[asset_id] = {
            "saving_eur": -float((drawn * price).sum() * SLOT_HOURS),
            "shifted_kwh": float(np.abs(change).sum() * SLOT_HOURS),
            "plan_kwh": float(np.clip(power, 0, None).sum() * SLOT_HOURS),
            "local_kwh": float(np.clip(local_power, 0, None).sum() * SLOT_HOURS),
        }
    return {
        "method": "rule_based",
        "local": {key: float(local_costs[key]) for key in _TOTALS if key in local_costs},
        "plan": {key: float(plan_costs[key]) for key in _TOTALS if key in plan_costs},
        "saving_eur": float(local_costs["objective_eur"]) - float(plan_costs["objective_eur"]),
        "assets": assets,
    }
