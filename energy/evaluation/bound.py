"""A lower bound on what the district's energy can cost over a period: the relaxed plant, planned
with the realised future in one linear program.

What it relaxes: every heat pump at the COP of its lowest flow temperature (the supply
temperature) whatever its tank's temperature, power anywhere between zero and its maximum (no
minimum modulation, no on/off times, no SG Ready levels), no battery cycle cost, and comfort
bounds as soft limits at their penalty; the realised loads, PV, heat demand and prices are known
for the whole period. The energy left in store is valued as the report values it
(`energy.evaluation.valuation`): the last block runs on through the continuation's days after
the period, and the continuation's cost from the initial state is subtracted, so that the bound
compares with every policy's metered cost plus its own continuation cost minus that same
reference. No policy that keeps comfort can meter less, up to the terminal value at the
continuation's end. Periods longer than `max_block_days` are planned in blocks chained by their
end states; the earlier blocks value their end state at their mean import price, and the figure
is the sum of block bounds, each a bound for its block from the state the previous block left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy.config import SiteConfig
from energy.control.planning import PlanningCycle
from energy.evaluation.valuation import Continuation
from energy.site import Site
from energy.tariff import tariff_series
from energy.timegrid import SLOT, slot_grid
from optimizer import DispatchOptimizer, DispatchResult, DispatchState, OptimizerOptions, PlanStatus
from optimizer.model import CopLinearisation
from optimizer.plant import Plant

__all__ = ["BOUND_RELAXES", "BoundError", "RelaxationBound", "relaxation_bound"]

logger = logging.getLogger(__name__)

#: The sentence summary.json carries next to bound_eur.
BOUND_RELAXES = (
    "lower bound: one LP over the period with the realised future, every heat pump at the COP "
    "of its supply temperature whatever its tank's temperature, no minimum modulation, on/off "
    "times or SG Ready levels, no battery cycle cost; never achievable as such"
)


class BoundError(RuntimeError):
    """The relaxed LP was not solved to optimality: there is no bound to report."""


@dataclass(frozen=True)
class RelaxationBound:
    bound_eur: float
    blocks: int
    relaxes: str = BOUND_RELAXES


def _relaxed_site(site: Site) -> Site:
    raw = site.config.model_dump()
    for house in raw["houses"]:
        if house.get("battery") is not None:
            house["battery"]["cycle_cost_eur_per_kwh"] = 0.0
    for battery in raw["community_batteries"]:
        battery["cycle_cost_eur_per_kwh"] = 0.0
    return Site.from_config(SiteConfig.model_validate(raw))


def relaxation_bound(
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    realised: pd.DataFrame,
    continuation: Continuation,
    max_block_days: int = 31,
    time_limit_s: float = 900.0,
) -> RelaxationBound:
    """The bound over [start, end) from the realised profiles, with the energy left in store
    valued by `continuation` (the report's valuation; see the module doc)."""
    relaxed = _relaxed_site(site)
    plant = Plant.from_site(relaxed)
    slots = slot_grid(start, end + continuation.horizon_slots * SLOT)
    period_slots = len(slot_grid(start, end))
    block = max_block_days * 96
    # the continuation's days belong to the last block of the period
    starts = list(range(0, period_slots, block))
    bounds = [*starts[1:], len(slots)]
    initial = DispatchState.initial(relaxed)
    state = initial
    total = 0.0
    for first, stop in zip(starts, bounds, strict=True):
        index = slots[first:stop]
        n = len(index)
        last = stop == len(slots)
        price = float(
            tariff_series(relaxed.config, index).frame()["price_import_eur_per_kwh"].mean()
        )
        options = OptimizerOptions(
            horizon_slots=n,
            terminal_value_eur_per_kwh=None if last else price,
            time_limit_s=time_limit_s,
            cold_solver="ipm",
        )
        optimizer = DispatchOptimizer(relaxed, n, options)
        cycle = PlanningCycle(relaxed, optimizer, None, tank_reserve_k=0.0)
        inputs = cycle.inputs(index[0], realised, realised)
        supply = np.array([[p.config.supply_temp_c] * n for p in plant.heat_pumps])
        best_cop = CopLinearisation(supply, np.zeros_like(supply), np.zeros(n))
        result = optimizer.solve(inputs, state, best_cop)
        if result.status != PlanStatus.OPTIMAL:
            raise BoundError(
                f"bound: the LP of the block from {index[0].isoformat()} ({n} slots) ended "
                f"{result.status.value} ({result.summary.model_status}); a bound needs its "
                "optimum"
            )
        breakdown = result.summary.cost_breakdown
        cost = breakdown["import_eur"] - breakdown["export_revenue_eur"]
        cost += breakdown["peak_charge_eur"]
        if last:
            total += (
                cost
                - breakdown["stored_energy_value_eur"]
                - continuation.cost_eur(DispatchState.initial(site))
            )
        else:
            total += cost - price * _stored_change_kwh(plant, state, result)
        logger.info("bound: block from %s, %d slots: %.2f EUR", index[0], n, total)
        state = DispatchState(
            soc_frac={
                b.id: float(result.values[(b.id, "soc_end_frac")][-1]) for b in plant.batteries
            },
            tank_temp_c={
                p.tank_id: float(result.values[(p.tank_id, "temp_end_c")][-1])
                for p in plant.heat_pumps
            },
        ).completed(relaxed)
    return RelaxationBound(total, len(starts))


def _stored_change_kwh(plant: Plant, state: DispatchState, result: DispatchResult) -> float:
    """Battery energy plus tank heat (divided by the plan's mean COP) at the plan's end against
    `state`: an intermediate block's end state, valued at the block's mean import price."""
    battery_change = sum(
        float(result.values[(b.id, "energy_end_kwh")][-1])
        - state.soc_frac[b.id] * b.config.capacity_kwh
        for b in plant.batteries
    )
    heat = sum(float(result.values[(p.id, "heat_kw")].sum()) for p in plant.heat_pumps)
    electric = sum(float(result.values[(p.id, "power_kw")].sum()) for p in plant.heat_pumps)
    cop = heat / electric if electric > 0 else 1.0
    tank_change = sum(
        float(result.values[(p.tank_id, "energy_end_kwh")][-1])
        - p.capacity_kwh_per_k * (state.tank_temp_c[p.tank_id] - p.tank.temp_min_c)
        for p in plant.heat_pumps
    )
    return battery_change + tank_change / max(cop, 1.0)
