"""The plan the optimizer hands to the control loop, and how any plan is evaluated.

A plan is a set of per-slot series keyed by (asset id, quantity). `evaluate_plan` computes the
cost breakdown and the violated limits from those series alone, the same way for a solver plan, a
shifted previous plan and a rule-based plan, so the figures are comparable whatever produced them.
`DispatchResult` carries the plan as a tidy DataFrame (slot_start, asset_id, quantity, value) and a
JSON-ready summary; both are easy to persist.

Quantities: grid `import_kw`, `export_kw`, `balance_price_eur_per_kwh` (dual of the power balance,
LP plans only), `import_weight_per_kwh` and `export_credit_per_kwh` (what the objective charges per
kWh imported and credits per kWh exported: the tariff's prices for the cost objective; solver
plans only); battery `power_kw` (positive = charging), `energy_end_kwh`, `soc_end_frac`,
`stored_value_eur_per_kwh` (what one more kWh in it at the slot's end is worth to the plan, from
the dual of its energy balance; LP plans only); heat
pump `power_kw`, `heat_kw`, `on`, and `sg_ready_state` (1-4) for SG Ready units; tank
`energy_end_kwh` (above temp_min_c) and `temp_end_c`; PV `power_kw` and `curtailed_kw`; EV
charger `power_kw` (AC, charging) and `need_end_kwh` (energy its car still needs); house
`load_kw` and `heat_demand_kw` (inputs, for explanation). "end" values are at the slot's end.

Every plan also reports the district's autarky figures (the site's stated aim), defined as in the
closed-loop evaluation: self_sufficiency_frac = 1 - import / consumption (household load, heat
pumps and EV charging) and self_consumption_frac = 1 - export / PV generation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import SiteConfig
from energy.ev import session_marks
from energy.timegrid import SLOT_HOURS
from optimizer.inputs import DispatchInputs, DispatchState
from optimizer.model import (
    ObjectiveWeights,
    co2_series,
    ev_short_penalty_per_kwh,
    objective_weights,
)
from optimizer.options import OptimizerOptions
from optimizer.plant import Plant

__all__ = [
    "GRID_ID",
    "DispatchResult",
    "DispatchSummary",
    "FallbackStep",
    "PlanStatus",
    "PlanValues",
    "SolveStage",
    "Violation",
    "evaluate_plan",
]

FloatArray = npt.NDArray[np.float64]
#: Asset id under which grid-connection quantities are reported.
GRID_ID = "grid"
#: Smallest violation reported (kWh, kW or K): 1 Wh, 1 W or 1 mK is round-off and standby loss.
VIOLATION_TOLERANCE = 1e-3
#: How far a measured state of charge may read outside its bounds before a plan reports it (a
#: fraction of capacity): a flow battery resting at its minimum loses 0.2 % an hour on standby.
SOC_READING_TOLERANCE_FRAC = 0.01

PlanValues = dict[tuple[str, str], FloatArray]


class SolveStage(StrEnum):
    """Which step of the fallback chain produced the plan, in the order they are tried."""

    MILP = "milp"
    LP = "lp"
    LP_RELAXATION = "lp_relaxation"
    SHIFTED_PREVIOUS = "shifted_previous"
    RULE_BASED = "rule_based"


class PlanStatus(StrEnum):
    OPTIMAL = "optimal"  # solved to optimality (MILP: within the configured gap)
    FEASIBLE = "feasible"  # MILP stopped at its time limit with an incumbent
    FALLBACK = "fallback"  # a later stage of the chain; see `fallback`


@dataclass(frozen=True)
class FallbackStep:
    stage: SolveStage
    outcome: str  # "used" or "failed"
    reason: str


@dataclass(frozen=True)
class Violation:
    """A limit the plan does not keep: which, where (asset, slots) and by how much."""

    limit: str
    asset_id: str
    first_slot: pd.Timestamp
    last_slot: pd.Timestamp
    n_slots: int
    max_amount: float
    unit: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["first_slot"] = self.first_slot.isoformat()
        out["last_slot"] = self.last_slot.isoformat()
        return out

    def __str__(self) -> str:
        return (
            f"{self.limit} at {self.asset_id}: up to {self.max_amount:.3f} {self.unit} over "
            f"{self.n_slots} slot(s) from {self.first_slot.isoformat()}"
            + (f" ({self.detail})" if self.detail else "")
        )


def _runs(
    index: pd.DatetimeIndex,
    amount: FloatArray,
    limit: str,
    asset_id: str,
    unit: str,
    detail: str = "",
) -> list[Violation]:
    """One Violation per run of consecutive slots where amount exceeds the tolerance."""
    bad = amount > VIOLATION_TOLERANCE
    if not bad.any():
        return []
    # +1 where a run starts, -1 one past where it ends
    edges = np.diff(np.concatenate(([0], bad.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1).tolist()
    ends = np.flatnonzero(edges == -1).tolist()
    return [
        Violation(
            limit,
            asset_id,
            index[first],
            index[end - 1],
            end - first,
            float(amount[first:end].max()),
            unit,
            detail,
        )
        for first, end in zip(starts, ends, strict=True)
    ]


def energy_value_per_kwh(
    weights: ObjectiveWeights, config: SiteConfig, inputs: DispatchInputs, options: OptimizerOptions
) -> float:
    """Objective value of 1 kWh imported at a typical (quantile) slot; values energy left at the
    horizon end. Must match optimizer.model.coefficients."""
    if options.terminal_value_eur_per_kwh is not None:
        return options.terminal_value_eur_per_kwh
    co2 = co2_series(config, inputs)
    import_weight = (
        weights.cost * inputs.price_import_eur_per_kwh
        + weights.grid_import_per_kwh
        + weights.co2_per_kg * (0.0 if co2 is None else co2) / 1000.0
    )
    return max(0.0, float(np.quantile(import_weight, options.terminal_price_quantile)))


def evaluate_plan(
    config: SiteConfig,
    plant: Plant,
    options: OptimizerOptions,
    inputs: DispatchInputs,
    state: DispatchState,
    values: Mapping[tuple[str, str], FloatArray],
) -> tuple[dict[str, float], list[Violation]]:
    """Cost breakdown (EUR, kWh, kg) and violations of a plan, from its series alone."""
    dt = SLOT_HOURS
    w = objective_weights(config)
    index = inputs.index
    imp = values[(GRID_ID, "import_kw")]
    exp = values[(GRID_ID, "export_kw")]
    co2 = co2_series(config, inputs)
    tariff = config.tariff
    penalty = options.hard_limit_penalty_eur_per_kwh
    violations: list[Violation] = []

    peak = max(float(imp.max(initial=0.0)), state.peak_import_kw)
    cycle = 0.0
    terminal = 0.0
    energy_value = energy_value_per_kwh(w, config, inputs, options)
    limit_kwh = 0.0
    comfort_eur = 0.0
    for unit in plant.batteries:
        power = values[(unit.id, "power_kw")]
        energy = values[(unit.id, "energy_end_kwh")]
        cycle += unit.config.cycle_cost_eur_per_kwh * dt * float(np.abs(power).sum())
        value = inputs.storage_value_eur_per_kwh.get(
            unit.id, energy_value * unit.config.discharge_efficiency_frac
        )
        terminal += value * float(energy[-1])
        low = np.maximum(unit.energy_min_kwh - energy, 0.0)
        high = np.maximum(energy - unit.energy_max_kwh, 0.0)
        limit_kwh += float(low.sum() + high.sum())
        violations += _runs(index, low, "battery_soc_min", unit.id, "kWh")
        violations += _runs(index, high, "battery_soc_max", unit.id, "kWh")
        if options.terminal_soc_frac is not None:
            short = max(0.0, options.terminal_soc_frac * unit.config.capacity_kwh - energy[-1])
            limit_kwh += short
            violations += _runs(
                index[-1:], np.array([short]), "battery_terminal_soc", unit.id, "kWh"
            )
        soc0 = state.soc_frac.get(unit.id)
        outside = (
            0.0
            if soc0 is None
            else max(unit.config.soc_min_frac - soc0, soc0 - unit.config.soc_max_frac)
        )
        # a battery resting at its limit drifts past it by its standby loss, and its reading is a
        # BMS estimate: within SOC_READING_TOLERANCE_FRAC that is not a violation
        if outside > SOC_READING_TOLERANCE_FRAC:
            violations.append(
                Violation(
                    "initial_soc_outside_bounds",
                    unit.id,
                    index[0],
                    index[0],
                    1,
                    float(outside),
                    "frac",
                    f"measured soc_frac {soc0:.3f}, bounds [{unit.config.soc_min_frac}, "
                    f"{unit.config.soc_max_frac}]",
                )
            )
    warm_tank_eur = 0.0
    for pump in plant.heat_pumps:
        energy = values[(pump.tank_id, "energy_end_kwh")]
        if (pump.id, "warm_tank_cost_eur") in values:
            warm_tank_eur += float(values[(pump.id, "warm_tank_cost_eur")].sum())
        cop = np.mean(values[(pump.id, "cop")]) if (pump.id, "cop") in values else None
        if pump.tank_id in inputs.storage_value_eur_per_kwh:
            terminal += inputs.storage_value_eur_per_kwh[pump.tank_id] * float(energy[-1])
        elif cop:
            terminal += energy_value / float(cop) * float(energy[-1])
        low = np.maximum(-energy, 0.0)
        high = np.maximum(energy - pump.band_kwh, 0.0)
        comfort_eur += pump.tank.comfort_penalty_eur_per_kwh * float(low.sum() + high.sum())
        per_k = pump.capacity_kwh_per_k
        violations += _runs(index, low / per_k, "tank_temp_min", pump.tank_id, "K")
        violations += _runs(index, high / per_k, "tank_temp_max", pump.tank_id, "K")
        temp0 = state.tank_temp_c.get(pump.tank_id)
        outside_k = (
            0.0
            if temp0 is None
            else max(pump.tank.temp_min_c - temp0, temp0 - pump.tank.temp_max_c)
        )
        if outside_k > VIOLATION_TOLERANCE:
            violations.append(
                Violation(
                    "initial_tank_temp_outside_bounds",
                    pump.tank_id,
                    index[0],
                    index[0],
                    1,
                    float(outside_k),
                    "K",
                    f"measured {temp0:.1f} degC, comfort band [{pump.tank.temp_min_c}, "
                    f"{pump.tank.temp_max_c}] degC",
                )
            )
    ev_short_kwh = 0.0
    ev_penalty_eur = 0.0
    ev_need_left_eur = 0.0
    ev_kw = np.zeros(len(index))
    for charger in plant.ev_chargers:
        need = values[(charger.id, "need_end_kwh")]
        ev_kw = ev_kw + values[(charger.id, "power_kw")]
        short = np.where(session_marks(charger.config, index, config.tz).departs, need, 0.0)
        ev_short_kwh += float(short.sum())
        ev_penalty_eur += ev_short_penalty_per_kwh(charger.config, w) * float(short.sum())
        ev_need_left_eur += energy_value / charger.config.charging_efficiency_frac * float(need[-1])
        violations += _runs(index, short, "ev_energy_short", charger.id, "kWh")
    export_limit = (
        config.grid.export_limit_kw
        if config.grid.feed_in_limit_kw is None
        else min(config.grid.export_limit_kw, config.grid.feed_in_limit_kw)
    )
    import_bound, export_bound = inputs.grid_bounds_kw(config.grid.import_limit_kw, export_limit)
    over_import = np.maximum(imp - import_bound, 0.0)
    over_export = np.maximum(exp - export_bound, 0.0)
    limit_kwh += dt * float(over_import.sum() + over_export.sum())
    violations += _runs(index, over_import, "grid_import_limit", GRID_ID, "kW")
    violations += _runs(index, over_export, "grid_export_limit", GRID_ID, "kW")

    import_eur = dt * float(inputs.price_import_eur_per_kwh @ imp)
    export_eur = dt * float(inputs.price_export_eur_per_kwh @ exp)
    peak_eur = tariff.peak_import_charge_eur_per_kw * peak
    import_kwh = dt * float(imp.sum())
    co2_kg = 0.0 if co2 is None else dt * float(co2 @ imp) / 1000.0
    net_cost = import_eur - export_eur + peak_eur + cycle
    objective = (
        w.cost * (import_eur - export_eur + peak_eur + cycle)
        + w.grid_import_per_kwh * import_kwh
        + w.co2_per_kg * co2_kg
        + penalty * limit_kwh
        + comfort_eur
        + warm_tank_eur
        + ev_penalty_eur
        + ev_need_left_eur
        - terminal
    )
    export_kwh = dt * float(exp.sum())
    consumption_kwh = dt * float(
        sum((inputs.load_kw[h] for h in plant.houses), ev_kw).sum()
        + sum(float(values[(p.id, "power_kw")].sum()) for p in plant.heat_pumps)
    )
    pv_kwh = dt * sum(float(values[(u.id, "power_kw")].sum()) for u in plant.pvs)
    breakdown = {
        "import_eur": import_eur,
        "export_revenue_eur": export_eur,
        "peak_charge_eur": peak_eur,
        "cycle_cost_eur": cycle,
        "net_energy_cost_eur": net_cost,
        "comfort_penalty_eur": comfort_eur,
        "warm_tank_cop_eur": warm_tank_eur,
        "limit_penalty_eur": penalty * limit_kwh,
        "stored_energy_value_eur": terminal,
        "objective_eur": objective,
        "ev_short_penalty_eur": ev_penalty_eur,
        "ev_need_left_eur": ev_need_left_eur,
        "import_kwh": import_kwh,
        "export_kwh": export_kwh,
        "peak_import_kw": peak,
        "co2_kg": co2_kg,
        "consumption_kwh": consumption_kwh,
        "ev_charging_kwh": dt * float(ev_kw.sum()),
        "ev_short_kwh": ev_short_kwh,
        "pv_kwh": pv_kwh,
        "self_sufficiency_frac": _share_left(import_kwh, consumption_kwh),
        "self_consumption_frac": _share_left(export_kwh, pv_kwh),
    }
    return breakdown, violations


def _share_left(part_kwh: float, whole_kwh: float) -> float:
    """1 - part / whole (NaN without a whole): the autarky ratios of the evaluation."""
    return 1.0 - part_kwh / whole_kwh if whole_kwh > 0 else float("nan")


@dataclass(frozen=True)
class DispatchSummary:
    """How a plan came about: status, objective and its cost breakdown, violated limits, the
    fallback chain's steps, the model's size and the timings. `to_json()` gives the plain JSON
    of summary.json and of a stored plan (the keys of the former dict summary).

    Size and iteration counts are None for a plan made without the solver (rule-based).
    """

    status: PlanStatus
    stage: SolveStage
    model_status: str | None
    objective_kind: str
    objective_eur: float
    mip_gap: float | None
    #: import_eur, export_revenue_eur, ..., objective_eur, import_kwh, co2_kg, the EV and autarky
    #: figures (evaluate_plan); the properties below read the EV and autarky ones
    cost_breakdown: Mapping[str, float]
    violations: tuple[Violation, ...]
    fallback: tuple[FallbackStep, ...]
    duals_available: bool
    horizon_start: pd.Timestamp
    horizon_end: pd.Timestamp
    n_slots: int
    n_variables: int | None
    n_constraints: int | None
    n_integer_variables: int | None
    simplex_iterations: int | None
    build_seconds: float
    solve_seconds: float
    highs_seconds: float | None
    extract_seconds: float
    total_seconds: float

    @property
    def self_sufficiency_frac(self) -> float:
        """1 - import / consumption over the horizon (NaN without consumption)."""
        return self.cost_breakdown["self_sufficiency_frac"]

    @property
    def self_consumption_frac(self) -> float:
        """1 - export / PV generation over the horizon (NaN without PV)."""
        return self.cost_breakdown["self_consumption_frac"]

    @property
    def ev_charging_kwh(self) -> float:
        """AC energy planned into the EV chargers."""
        return self.cost_breakdown["ev_charging_kwh"]

    @property
    def ev_short_kwh(self) -> float:
        """Energy the cars still need at their departures in the plan."""
        return self.cost_breakdown["ev_short_kwh"]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; non-finite numbers become null."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["fallback"] = [
            {"stage": s.stage.value, "outcome": s.outcome, "reason": s.reason}
            for s in self.fallback
        ]
        values["cost_breakdown"] = dict(self.cost_breakdown)
        return {name: _jsonable(value) for name, value in values.items()}


@dataclass(frozen=True)
class DispatchResult:
    """A plan for every slot of the horizon, with how it came about.

    `plan` is tidy: one row per (slot_start, asset_id, quantity).
    """

    index: pd.DatetimeIndex
    values: PlanValues = field(repr=False)
    summary: DispatchSummary
    violations: tuple[Violation, ...]

    @property
    def status(self) -> PlanStatus:
        return self.summary.status

    @property
    def stage(self) -> SolveStage:
        return self.summary.stage

    @cached_property
    def plan(self) -> pd.DataFrame:
        """Tidy frame: slot_start (UTC), asset_id, quantity, value."""
        keys = list(self.values)
        n = len(self.index)
        return pd.DataFrame(
            {
                "slot_start": np.tile(self.index.to_numpy(), len(keys)),
                "asset_id": np.repeat([k[0] for k in keys], n),
                "quantity": np.repeat([k[1] for k in keys], n),
                "value": np.concatenate([self.values[k] for k in keys]) if keys else [],
            }
        )

    def wide(self) -> pd.DataFrame:
        """One row per slot, one column `<asset_id>:<quantity>` per series."""
        frame = pd.DataFrame({f"{a}:{q}": v for (a, q), v in self.values.items()}, index=self.index)
        frame.index.name = "timestamp"
        return frame

    def series(self, asset_id: str, quantity: str) -> pd.Series:
        return pd.Series(
            self.values[(asset_id, quantity)], index=self.index, name=f"{asset_id}:{quantity}"
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Violation):
        return value.to_dict()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
