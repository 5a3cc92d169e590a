"""The dispatch model: a Pyomo formulation built once per site and horizon length.

Everything that changes between solves (prices, forecasts, COP, caps, initial state) enters the
model only through mutable Params, and each Param sits in exactly one kind of place of the linear
program: an objective coefficient, a variable bound, a row bound, or one matrix coefficient. A
`Binding` records that place, so the solver backend can push new values straight into the loaded
HiGHS model without walking Pyomo expressions again (`coefficients` computes the values from the
inputs). Plant sizes are constants of the formulation, taken from the site configuration.

Sign convention: grid import and battery charging are positive. Powers are kW averaged over a
slot, energies kWh at the end of a slot. Tank energy is counted above the tank's temp_min_c.

EV chargers are flexible loads planned by the energy their cars still need (`ev_need`, kWh into
the car at a slot's end): a session adds its energy at its arrival, charging (0 up to the
charger's power while the car is plugged in) takes it down, and at each departure whatever is
left is short (soft, at the charger's unmet_penalty_eur_per_kwh) and stays needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from energy.config import EVChargerConfig, SiteConfig
from energy.ev import session_marks
from energy.legionella import hold_mask_at, minute_of_week
from energy.thermal import heat_pump_cop_at_tank, heat_pump_electricity_slope_per_k
from energy.timegrid import SLOT, SLOT_HOURS, SLOT_MINUTES
from optimizer.inputs import DispatchInputs, DispatchState, InputError
from optimizer.options import OptimizerOptions
from optimizer.plant import Plant, sg_ready_levels_kw

__all__ = [
    "DIRECTION_ROWS",
    "Binding",
    "BindingKind",
    "Coefficients",
    "CopLinearisation",
    "DispatchModel",
    "ObjectivePrices",
    "ObjectiveWeights",
    "build_model",
    "co2_series",
    "coefficients",
    "direction_rows_needed",
    "direction_slots",
    "ev_params",
    "ev_short_penalty_per_kwh",
    "flat_linearisation",
    "objective_prices",
    "objective_weights",
    "set_param_values",
]

FloatArray = npt.NDArray[np.float64]
SG_STATES = (2, 3, 4)

#: The rows that keep a battery from charging and discharging, and the connection from importing
#: and exporting, in the same slot, with the direction variable they share. They are part of the
#: formulation only in the slots where running both ways at once could pay (see
#: `direction_rows_needed`); everywhere else they are switched off for the solve, because their
#: continuous relaxation changes no optimum there but makes the LP far harder at district scale.
DIRECTION_ROWS: dict[str, str] = {
    "bat_ch_dir": "z",
    "bat_dis_dir": "z",
    "dir_imp": "g",
    "dir_exp": "g",
}


class BindingKind(StrEnum):
    OBJECTIVE = "objective"  # cost of a column
    COL_LOWER = "col_lower"
    COL_UPPER = "col_upper"
    ROW_BOUND = "row_bound"  # the right-hand side of an equality or one-sided row
    COEFFICIENT = "coefficient"  # the coefficient of `var` in row `target`


@dataclass(frozen=True)
class Binding:
    """Where the values of Param `param` go: element k of the flattened value array belongs to
    `target[target_keys[k]]` (and, for coefficients, to variable `var[var_keys[k]]`)."""

    param: str
    kind: BindingKind
    target: str
    target_keys: tuple[Any, ...]
    var: str | None = None
    var_keys: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ObjectiveWeights:
    """Objective = cost x cost_eur + grid_import x kWh imported + co2 x kg emitted (+ penalties)."""

    cost: float
    grid_import_per_kwh: float
    co2_per_kg: float


def objective_weights(config: SiteConfig) -> ObjectiveWeights:
    objective = config.objective
    if objective.kind == "cost":
        return ObjectiveWeights(1.0, 0.0, 0.0)
    if objective.kind == "grid_import":
        return ObjectiveWeights(0.0, 1.0, 0.0)
    if objective.kind == "co2":
        return ObjectiveWeights(0.0, 0.0, 1.0)
    return ObjectiveWeights(
        objective.cost_weight, objective.grid_import_weight_per_kwh, objective.co2_weight_per_kg
    )


@dataclass(frozen=True)
class DispatchModel:
    """A built Pyomo model and what is needed to feed and read it.

    A solver backend reads what it needs from the Pyomo model once, when it loads it; its owner
    then keeps `released()`, the same without the Pyomo model and its bindings (at district
    scale they are a third of the memory a plan takes)."""

    pyomo_model: pyo.ConcreteModel | None
    config: SiteConfig
    plant: Plant
    options: OptimizerOptions
    n_slots: int
    weights: ObjectiveWeights
    bindings: tuple[Binding, ...]
    #: integer columns, by variable name: decided per solve ("z", "g") or always ("on", "y")
    dynamic_integer_vars: tuple[str, ...]
    static_integer_vars: tuple[str, ...]

    @property
    def formulation(self) -> pyo.ConcreteModel:
        """The Pyomo model; raises RuntimeError once released."""
        if self.pyomo_model is None:
            raise RuntimeError(
                "the Pyomo model was released after loading; build_model() builds a new one"
            )
        return self.pyomo_model

    def released(self) -> DispatchModel:
        return replace(self, pyomo_model=None, bindings=())

    @property
    def import_limit_kw(self) -> float:
        return self.config.grid.import_limit_kw

    @property
    def export_limit_kw(self) -> float:
        grid = self.config.grid
        if grid.feed_in_limit_kw is None:
            return grid.export_limit_kw
        return min(grid.export_limit_kw, grid.feed_in_limit_kw)


def _slots_for(minutes: float) -> int:
    return max(1, math.ceil(minutes / SLOT_MINUTES))


def build_model(config: SiteConfig, plant: Plant, options: OptimizerOptions) -> DispatchModel:
    """Build the formulation for `options.horizon_slots` slots with placeholder Param values."""
    # the cyclic garbage collector finds nothing to free while tens of thousands of components
    # are created, but its passes over the growing heap cost a large share of the build time
    with PauseGC():
        return _build_model(config, plant, options)


def _build_model(config: SiteConfig, plant: Plant, options: OptimizerOptions) -> DispatchModel:
    n = options.horizon_slots
    dt = SLOT_HOURS
    weights = objective_weights(config)
    penalty = options.hard_limit_penalty_eur_per_kwh
    batteries, hps, pvs, evs = plant.batteries, plant.heat_pumps, plant.pvs, plant.ev_chargers
    on_off = options.heat_pump_on_off
    grid = config.grid
    export_limit = (
        grid.export_limit_kw
        if grid.feed_in_limit_kw is None
        else min(grid.export_limit_kw, grid.feed_in_limit_kw)
    )
    m_import = options.grid_direction_m_factor * grid.import_limit_kw
    m_export = options.grid_direction_m_factor * export_limit

    m = pyo.ConcreteModel(name="klimaviertel_dispatch")
    ts = range(n)
    bs = range(len(batteries))
    hs = range(len(hps))
    ps = range(len(pvs))
    cs = range(len(evs))
    ct = list(product(cs, ts))
    bt = list(product(bs, ts))
    ht = list(product(hs, ts))
    pt = list(product(ps, ts))
    # index sets as Pyomo range sets and their products: no per-element checks on construction
    m.T = pyo.RangeSet(0, n - 1)
    m.B = pyo.RangeSet(0, len(batteries) - 1)
    m.H = pyo.RangeSet(0, len(hps) - 1)
    m.P = pyo.RangeSet(0, len(pvs) - 1)
    m.E = pyo.RangeSet(0, len(evs) - 1)
    m.ET = m.E * m.T
    m.BT = m.B * m.T
    m.HT = m.H * m.T
    m.PT = m.P * m.T

    def mutable(index: Any = None) -> pyo.Param:
        if index is None:
            return pyo.Param(mutable=True, initialize=1.0)
        return pyo.Param(index, mutable=True, initialize=1.0)

    # inputs (placeholders until the first solve pushes real values)
    m.cost_import = mutable(m.T)
    m.cost_export = mutable(m.T)
    m.bal_rhs = mutable(m.T)
    m.peak_lb = mutable()
    m.bat_rhs = mutable(m.BT)
    m.bat_term_cost = mutable(m.B)
    m.pv_lb = mutable(m.PT)
    m.pv_ub = mutable(m.PT)
    m.hp_ub = mutable(m.HT)
    m.hp_heat = mutable(m.HT)
    m.tank_rhs = mutable(m.HT)
    m.tank_lo_rhs = mutable(m.HT)
    m.tank_term_cost = mutable(m.H)
    m.hot_cost = mutable(m.HT)
    m.ev_ub = mutable(m.ET)
    m.ev_rhs = mutable(m.ET)
    m.ev_due_rhs = mutable(m.ET)
    m.ev_term_cost = mutable(m.E)
    m.imp_ub = mutable(m.T)
    m.exp_ub = mutable(m.T)

    # grid connection
    m.imp = pyo.Var(m.T, bounds=(0, None))
    m.exp = pyo.Var(m.T, bounds=(0, None))
    m.s_imp = pyo.Var(m.T, bounds=(0, None))
    m.s_exp = pyo.Var(m.T, bounds=(0, None))
    m.g = pyo.Var(m.T, bounds=(0, 1))
    m.peak = pyo.Var(bounds=(m.peak_lb, None))
    # batteries
    m.ch = pyo.Var(m.BT, bounds=lambda _m, b, t: (0, batteries[b].config.charge_max_kw))
    m.dis = pyo.Var(m.BT, bounds=lambda _m, b, t: (0, batteries[b].config.discharge_max_kw))
    m.e = pyo.Var(m.BT)
    m.e_lo = pyo.Var(m.BT, bounds=(0, None))
    m.e_hi = pyo.Var(m.BT, bounds=(0, None))
    m.z = pyo.Var(m.BT, bounds=(0, 1))
    # PV, heat pumps, tanks
    m.pv = pyo.Var(m.PT, bounds=lambda _m, j, t: (_m.pv_lb[j, t], _m.pv_ub[j, t]))
    m.hp = pyo.Var(m.HT, bounds=lambda _m, h, t: (0, _m.hp_ub[h, t]))
    m.q = pyo.Var(m.HT)
    m.q_lo = pyo.Var(m.HT, bounds=(0, None))
    m.q_hi = pyo.Var(m.HT, bounds=(0, None))
    # heat stored above the supply temperature at a slot's end: it raises the next slot's flow
    # temperature and so costs COP (priced by hot_cost, see CopLinearisation)
    m.hot = pyo.Var(m.HT, bounds=(0, None))
    # EV chargers: AC charging power, the energy their car still needs, what is short at departure
    m.ev = pyo.Var(m.ET, bounds=lambda _m, c, t: (0, _m.ev_ub[c, t]))
    m.ev_need = pyo.Var(m.ET, bounds=(0, None))
    m.ev_short = pyo.Var(m.ET, bounds=(0, None))

    def balance_terms(_m: Any, t: int) -> Iterator[Any]:
        yield _m.imp[t]
        yield -_m.exp[t]
        for b in bs:
            yield -_m.ch[b, t]
            yield _m.dis[b, t]
        for h in hs:
            yield -_m.hp[h, t]
        for j in ps:
            yield _m.pv[j, t]
        for c in cs:
            yield -_m.ev[c, t]

    m.balance = pyo.Constraint(
        m.T, rule=lambda _m, t: pyo.quicksum(balance_terms(_m, t)) == _m.bal_rhs[t]
    )
    # the bounds per slot: the configured limits, tightened by grid-operator limits (inputs)
    m.imp_cap = pyo.Constraint(m.T, rule=lambda _m, t: _m.imp[t] - _m.s_imp[t] <= _m.imp_ub[t])
    m.exp_cap = pyo.Constraint(m.T, rule=lambda _m, t: _m.exp[t] - _m.s_exp[t] <= _m.exp_ub[t])
    m.dir_imp = pyo.Constraint(m.T, rule=lambda _m, t: _m.imp[t] - m_import * _m.g[t] <= 0)
    m.dir_exp = pyo.Constraint(m.T, rule=lambda _m, t: _m.exp[t] + m_export * _m.g[t] <= m_export)
    m.peak_def = pyo.Constraint(m.T, rule=lambda _m, t: _m.peak - _m.imp[t] >= 0)

    def bat_bal(_m: Any, b: int, t: int) -> Any:
        c = batteries[b].config
        keep = 1.0 - c.standby_loss_frac_per_h * dt
        previous = keep * _m.e[b, t - 1] if t > 0 else 0.0
        return (
            _m.e[b, t]
            - previous
            - dt * c.charge_efficiency_frac * _m.ch[b, t]
            + dt / c.discharge_efficiency_frac * _m.dis[b, t]
            == _m.bat_rhs[b, t]
        )

    m.bat_bal = pyo.Constraint(m.BT, rule=bat_bal)
    m.bat_lo = pyo.Constraint(
        m.BT, rule=lambda _m, b, t: _m.e[b, t] + _m.e_lo[b, t] >= batteries[b].energy_min_kwh
    )
    m.bat_hi = pyo.Constraint(
        m.BT, rule=lambda _m, b, t: _m.e[b, t] - _m.e_hi[b, t] <= batteries[b].energy_max_kwh
    )
    m.bat_ch_dir = pyo.Constraint(
        m.BT,
        rule=lambda _m, b, t: _m.ch[b, t] - batteries[b].config.charge_max_kw * _m.z[b, t] <= 0,
    )
    m.bat_dis_dir = pyo.Constraint(
        m.BT,
        rule=lambda _m, b, t: (
            _m.dis[b, t] + batteries[b].config.discharge_max_kw * _m.z[b, t]
            <= batteries[b].config.discharge_max_kw
        ),
    )
    terminal_target = options.terminal_soc_frac
    if terminal_target is not None:
        m.e_term = pyo.Var(m.B, bounds=(0, None))
        m.bat_term = pyo.Constraint(
            m.B,
            rule=lambda _m, b: (
                _m.e[b, n - 1] + _m.e_term[b] >= terminal_target * batteries[b].config.capacity_kwh
            ),
        )

    def tank_bal(_m: Any, h: int, t: int) -> Any:
        unit = hps[h]
        keep = 1.0 - dt * unit.tank.loss_w_per_k / 1000.0 / unit.capacity_kwh_per_k
        previous = keep * _m.q[h, t - 1] if t > 0 else 0.0
        return _m.q[h, t] - previous - _m.hp_heat[h, t] * _m.hp[h, t] == _m.tank_rhs[h, t]

    m.tank_bal = pyo.Constraint(m.HT, rule=tank_bal)
    m.tank_lo = pyo.Constraint(
        m.HT, rule=lambda _m, h, t: _m.q[h, t] + _m.q_lo[h, t] >= _m.tank_lo_rhs[h, t]
    )
    m.tank_hi = pyo.Constraint(
        m.HT, rule=lambda _m, h, t: _m.q[h, t] - _m.q_hi[h, t] <= hps[h].band_kwh
    )

    m.hot_def = pyo.Constraint(
        m.HT, rule=lambda _m, h, t: _m.hot[h, t] - _m.q[h, t] >= -hps[h].supply_kwh
    )

    def ev_bal(_m: Any, c: int, t: int) -> Any:
        previous = _m.ev_need[c, t - 1] if t > 0 else 0.0
        efficiency = evs[c].config.charging_efficiency_frac
        return _m.ev_need[c, t] - previous + dt * efficiency * _m.ev[c, t] == _m.ev_rhs[c, t]

    m.ev_bal = pyo.Constraint(m.ET, rule=ev_bal)
    # at a departure slot's end (right-hand side 0) the need left is short; elsewhere the
    # right-hand side is the car's battery and the row never binds
    m.ev_due = pyo.Constraint(
        m.ET, rule=lambda _m, c, t: _m.ev_need[c, t] - _m.ev_short[c, t] <= _m.ev_due_rhs[c, t]
    )

    bindings = [
        Binding("cost_import", BindingKind.OBJECTIVE, "imp", tuple(ts)),
        Binding("cost_export", BindingKind.OBJECTIVE, "exp", tuple(ts)),
        Binding("bal_rhs", BindingKind.ROW_BOUND, "balance", tuple(ts)),
        Binding("imp_ub", BindingKind.ROW_BOUND, "imp_cap", tuple(ts)),
        Binding("exp_ub", BindingKind.ROW_BOUND, "exp_cap", tuple(ts)),
        Binding("peak_lb", BindingKind.COL_LOWER, "peak", (None,)),
        Binding("bat_rhs", BindingKind.ROW_BOUND, "bat_bal", tuple(bt)),
        Binding("bat_term_cost", BindingKind.OBJECTIVE, "e", tuple((b, n - 1) for b in bs)),
        Binding("pv_lb", BindingKind.COL_LOWER, "pv", tuple(pt)),
        Binding("pv_ub", BindingKind.COL_UPPER, "pv", tuple(pt)),
        Binding("hp_ub", BindingKind.COL_UPPER, "hp", tuple(ht)),
        Binding("hp_heat", BindingKind.COEFFICIENT, "tank_bal", tuple(ht), "hp", tuple(ht)),
        Binding("tank_rhs", BindingKind.ROW_BOUND, "tank_bal", tuple(ht)),
        Binding("tank_lo_rhs", BindingKind.ROW_BOUND, "tank_lo", tuple(ht)),
        Binding("tank_term_cost", BindingKind.OBJECTIVE, "q", tuple((h, n - 1) for h in hs)),
        Binding("hot_cost", BindingKind.OBJECTIVE, "hot", tuple(ht)),
        Binding("ev_ub", BindingKind.COL_UPPER, "ev", tuple(ct)),
        Binding("ev_rhs", BindingKind.ROW_BOUND, "ev_bal", tuple(ct)),
        Binding("ev_due_rhs", BindingKind.ROW_BOUND, "ev_due", tuple(ct)),
        Binding("ev_term_cost", BindingKind.OBJECTIVE, "ev_need", tuple((c, n - 1) for c in cs)),
    ]
    static_integer: list[str] = []
    if on_off and hps:
        bindings += _add_on_off(m, plant, n)
        static_integer.append("on")
        if any(hp.sg_ready for hp in hps):
            static_integer.append("y")

    def objective_terms() -> Iterator[Any]:
        """Every (coefficient x variable) term, one at a time (summed once, linearly)."""
        for t in ts:
            yield m.cost_import[t] * m.imp[t]
            yield m.cost_export[t] * m.exp[t]
            yield penalty * dt * m.s_imp[t]
            yield penalty * dt * m.s_exp[t]
        yield weights.cost * config.tariff.peak_import_charge_eur_per_kw * m.peak
        for b, t in bt:
            cycle_cost = weights.cost * batteries[b].config.cycle_cost_eur_per_kwh * dt
            yield cycle_cost * m.ch[b, t]
            yield cycle_cost * m.dis[b, t]
            yield penalty * m.e_lo[b, t]
            yield penalty * m.e_hi[b, t]
        for h, t in ht:
            comfort = hps[h].tank.comfort_penalty_eur_per_kwh
            yield comfort * m.q_lo[h, t]
            yield comfort * m.q_hi[h, t]
            yield m.hot_cost[h, t] * m.hot[h, t]
        for b in bs:
            yield m.bat_term_cost[b] * m.e[b, n - 1]
            if terminal_target is not None:
                yield penalty * m.e_term[b]
        for h in hs:
            yield m.tank_term_cost[h] * m.q[h, n - 1]
        for c, t in ct:
            yield ev_short_penalty_per_kwh(evs[c].config, weights) * m.ev_short[c, t]
        for c in cs:
            yield m.ev_term_cost[c] * m.ev_need[c, n - 1]

    objective = pyo.quicksum(objective_terms())
    m.objective = pyo.Objective(expr=objective, sense=pyo.minimize)
    return DispatchModel(
        pyomo_model=m,
        config=config,
        plant=plant,
        options=options,
        n_slots=n,
        weights=weights,
        bindings=tuple(bindings),
        dynamic_integer_vars=("z", "g"),
        static_integer_vars=tuple(static_integer),
    )


def _add_on_off(m: pyo.ConcreteModel, plant: Plant, n: int) -> list[Binding]:
    """Heat pump on/off with minimum power, minimum on/off times and SG Ready states."""
    hps = plant.heat_pumps
    ts = range(n)
    hs = range(len(hps))
    ht = list(product(hs, ts))
    continuous = [h for h in hs if not hps[h].sg_ready]
    sg = [h for h in hs if hps[h].sg_ready]
    ct = list(product(continuous, ts))
    m.C = pyo.Set(initialize=continuous, ordered=True)
    m.SG = pyo.Set(initialize=sg, ordered=True)
    m.S = pyo.Set(initialize=SG_STATES, ordered=True)
    m.CT = m.C * m.T
    m.SGT = m.SG * m.S * m.T

    m.on_lb = pyo.Param(m.HT, mutable=True, initialize=1.0)
    m.on_ub = pyo.Param(m.HT, mutable=True, initialize=1.0)
    m.hp_ub_on = pyo.Param(m.CT, mutable=True, initialize=1.0)
    m.hp_start_rhs = pyo.Param(m.H, mutable=True, initialize=1.0)
    m.hp_stop_rhs = pyo.Param(m.H, mutable=True, initialize=1.0)

    m.on = pyo.Var(
        m.HT, within=pyo.Binary, bounds=lambda _m, h, t: (_m.on_lb[h, t], _m.on_ub[h, t])
    )
    m.su = pyo.Var(m.HT, bounds=(0, 1))
    m.sd = pyo.Var(m.HT, bounds=(0, 1))
    m.y = pyo.Var(m.SGT, within=pyo.Binary)

    m.hp_max_on = pyo.Constraint(
        m.CT, rule=lambda _m, h, t: _m.hp[h, t] - _m.hp_ub_on[h, t] * _m.on[h, t] <= 0
    )
    m.hp_min_on = pyo.Constraint(
        m.CT, rule=lambda _m, h, t: _m.hp[h, t] - hps[h].config.electric_min_kw * _m.on[h, t] >= 0
    )
    m.sg_one = pyo.Constraint(
        m.SG * m.T,
        rule=lambda _m, h, t: sum(_m.y[h, s, t] for s in SG_STATES) - _m.on[h, t] == 0,
    )
    levels = {h: sg_ready_levels_kw(hps[h].config) for h in sg}
    m.sg_power = pyo.Constraint(
        m.SG * m.T,
        rule=lambda _m, h, t: (
            _m.hp[h, t] - sum(levels[h][s] * _m.y[h, s, t] for s in SG_STATES) == 0
        ),
    )

    m.start = pyo.Constraint(
        m.HT,
        rule=lambda _m, h, t: (
            (_m.su[h, t] - _m.on[h, t] + _m.on[h, t - 1] >= 0) if t > 0 else pyo.Constraint.Skip
        ),
    )
    m.stop = pyo.Constraint(
        m.HT,
        rule=lambda _m, h, t: (
            (_m.sd[h, t] + _m.on[h, t] - _m.on[h, t - 1] >= 0) if t > 0 else pyo.Constraint.Skip
        ),
    )
    m.start0 = pyo.Constraint(
        m.H, rule=lambda _m, h: _m.su[h, 0] - _m.on[h, 0] >= _m.hp_start_rhs[h]
    )
    m.stop0 = pyo.Constraint(m.H, rule=lambda _m, h: _m.sd[h, 0] + _m.on[h, 0] >= _m.hp_stop_rhs[h])

    def min_up(_m: Any, h: int, t: int) -> Any:
        slots = _slots_for(hps[h].config.min_on_minutes)
        if slots <= 1:
            return pyo.Constraint.Skip
        return sum(_m.su[h, k] for k in range(max(0, t - slots + 1), t + 1)) - _m.on[h, t] <= 0

    def min_down(_m: Any, h: int, t: int) -> Any:
        slots = _slots_for(hps[h].config.min_off_minutes)
        if slots <= 1:
            return pyo.Constraint.Skip
        return sum(_m.sd[h, k] for k in range(max(0, t - slots + 1), t + 1)) + _m.on[h, t] <= 1

    m.min_up = pyo.Constraint(m.HT, rule=min_up)
    m.min_down = pyo.Constraint(m.HT, rule=min_down)
    return [
        Binding("on_lb", BindingKind.COL_LOWER, "on", tuple(ht)),
        Binding("on_ub", BindingKind.COL_UPPER, "on", tuple(ht)),
        Binding("hp_ub_on", BindingKind.COEFFICIENT, "hp_max_on", tuple(ct), "on", tuple(ct)),
        Binding("hp_start_rhs", BindingKind.ROW_BOUND, "start0", tuple(hs)),
        Binding("hp_stop_rhs", BindingKind.ROW_BOUND, "stop0", tuple(hs)),
    ]


@dataclass(frozen=True)
class CopLinearisation:
    """Where the plan's tank-dependent COP is linearised: a trajectory it expects to follow.

    The plant's COP falls as its tank warms (`energy.thermal.heat_pump_cop_at_tank`), which makes
    heat = COP(tank temperature) x electricity bilinear. The plan linearises it around this
    trajectory (in the live loop and the closed loop: the previous plan, shifted to the new
    start; sequential linearisation across the 15-minute re-plans):

    - each slot's COP is the plant's at `tank_temp_start_c` (the tank at the slot's start, where
      the plant evaluates it too);
    - every kWh stored above the supply temperature at the end of slot t costs
      value[t + 1] x heat[t + 1] x dt x d(1/COP)/dT / (kWh per K): the extra electricity that
      the heat expected in the next slot needs because the tank is warmer (the first-order term
      of the bilinear product, priced at the marginal value of electricity then). It sits in the
      objective, not in the tank balance, so a linearisation point that is off never creates or
      destroys heat in the plan.

    Arrays are (heat pumps, slots).
    """

    tank_temp_start_c: FloatArray
    heat_kw: FloatArray
    electricity_value_eur_per_kwh: FloatArray


def flat_linearisation(
    dm: DispatchModel, inputs: DispatchInputs, state: DispatchState, value: FloatArray
) -> CopLinearisation:
    """The linearisation without a previous plan: every tank held at its measured temperature,
    each unit producing its house's heat demand, electricity valued at `value` (EUR/kWh)."""
    pumps = dm.plant.heat_pumps
    n = dm.n_slots
    temps = np.array([[state.tank_temp_c[p.tank_id]] * n for p in pumps]).reshape(len(pumps), n)
    heat = np.array([inputs.heat_demand_kw[p.house_id] for p in pumps]).reshape(len(pumps), n)
    return CopLinearisation(temps, heat, np.broadcast_to(value, (n,)).astype(float))


@dataclass(frozen=True)
class Coefficients:
    """Values for every Param of a DispatchModel, plus the slots that need integer variables."""

    params: dict[str, FloatArray]
    cop: FloatArray  # (heat pumps, slots)
    integer_battery_slots: npt.NDArray[np.bool_]
    integer_grid_slots: npt.NDArray[np.bool_]
    import_weight_per_kwh: FloatArray  # objective units per kWh imported, per slot
    linearisation: CopLinearisation  # where the tank-dependent COP was linearised


def co2_series(config: SiteConfig, inputs: DispatchInputs) -> FloatArray | None:
    """The emission factor per slot: the inputs' column, else the tariff's constant, else None."""
    if inputs.co2_g_per_kwh is not None:
        return inputs.co2_g_per_kwh
    if config.tariff.co2_g_per_kwh is not None:
        return np.full(inputs.n_slots, config.tariff.co2_g_per_kwh)
    return None


@dataclass(frozen=True)
class ObjectivePrices:
    """What a kWh at the connection is worth in objective units, per slot, and what a kWh left
    in storage at the horizon's end is worth (before each store's efficiency)."""

    import_weight_per_kwh: FloatArray
    export_credit_per_kwh: FloatArray
    energy_value_per_kwh: float


def objective_prices(
    config: SiteConfig, options: OptimizerOptions, weights: ObjectiveWeights, inputs: DispatchInputs
) -> ObjectivePrices:
    """The site-wide prices of the objective: one place for the whole model and for the blocks
    of the decomposition (optimizer.decomposition), which must price exactly alike."""
    co2 = co2_series(config, inputs)
    if co2 is None:
        if weights.co2_per_kg > 0:
            raise InputError(
                [
                    "column 'co2_g_per_kwh': expected it (the objective prices CO2 and "
                    "the tariff has no constant co2_g_per_kwh); found it missing"
                ]
            )
        co2 = np.zeros(inputs.n_slots)
    import_weight = (
        weights.cost * inputs.price_import_eur_per_kwh
        + weights.grid_import_per_kwh
        + weights.co2_per_kg * co2 / 1000.0
    )
    export_credit = weights.cost * inputs.price_export_eur_per_kwh
    if options.terminal_value_eur_per_kwh is not None:
        energy_value = options.terminal_value_eur_per_kwh
    else:
        energy_value = max(0.0, float(np.quantile(import_weight, options.terminal_price_quantile)))
    return ObjectivePrices(import_weight, export_credit, energy_value)


def coefficients(
    dm: DispatchModel,
    inputs: DispatchInputs,
    state: DispatchState,
    linearisation: CopLinearisation | None = None,
) -> Coefficients:
    """Turn inputs and state into the value of every Param of the model (the one place where
    forecasts, prices and measurements become model numbers).

    linearisation: where the tank-dependent COP is linearised (None: `flat_linearisation`).
    """
    n = dm.n_slots
    dt = SLOT_HOURS
    plant = dm.plant
    prices = objective_prices(dm.config, dm.options, dm.weights, inputs)
    import_weight = prices.import_weight_per_kwh
    export_credit = prices.export_credit_per_kwh
    energy_value = prices.energy_value_per_kwh

    p: dict[str, FloatArray] = {
        "cost_import": dt * import_weight,
        "cost_export": -dt * export_credit,
        "bal_rhs": sum((inputs.load_kw[h] for h in plant.houses), np.zeros(n)),
        "peak_lb": np.array(state.peak_import_kw, dtype=float),
    }
    p["imp_ub"], p["exp_ub"] = inputs.grid_bounds_kw(dm.import_limit_kw, dm.export_limit_kw)
    bat_rhs = np.zeros((len(plant.batteries), n))
    for b, unit in enumerate(plant.batteries):
        keep = 1.0 - unit.config.standby_loss_frac_per_h * dt
        bat_rhs[b, 0] = keep * state.soc_frac[unit.id] * unit.config.capacity_kwh
    p["bat_rhs"] = bat_rhs
    stored_value = inputs.storage_value_eur_per_kwh
    p["bat_term_cost"] = np.array(
        [
            -stored_value.get(u.id, energy_value * u.config.discharge_efficiency_frac)
            for u in plant.batteries
        ]
    )
    pv = np.array([inputs.pv_kw[u.id] for u in plant.pvs]).reshape(len(plant.pvs), n)
    curtailable = np.array([u.config.curtailable for u in plant.pvs], dtype=bool)
    p["pv_ub"] = pv
    p["pv_lb"] = np.where(curtailable[:, None], 0.0, pv)

    nh = len(plant.heat_pumps)
    slot_ends = minute_of_week(inputs.index + SLOT, dm.config.tz)
    if linearisation is None:
        linearisation = flat_linearisation(dm, inputs, state, import_weight)
    hot_cost = np.zeros((nh, n))
    cop = np.zeros((nh, n))
    hp_ub = np.zeros((nh, n))
    tank_rhs = np.zeros((nh, n))
    tank_lo_rhs = np.zeros((nh, n))
    on_lb = np.zeros((nh, n))
    on_ub = np.ones((nh, n))
    on_init = np.zeros(nh)
    for h, pump in enumerate(plant.heat_pumps):
        hp_cfg = pump.config
        start_c = linearisation.tank_temp_start_c[h]
        cop[h] = heat_pump_cop_at_tank(hp_cfg, inputs.temp_outdoor_c, start_c)
        slope = heat_pump_electricity_slope_per_k(hp_cfg, inputs.temp_outdoor_c, start_c)
        marginal = (
            np.maximum(linearisation.electricity_value_eur_per_kwh, 0.0)
            * np.maximum(linearisation.heat_kw[h], 0.0)
            * slope
            * dt
            / pump.capacity_kwh_per_k
        )
        # stored at the end of slot t, paid in slot t + 1; the last slot's store as the mean
        hot_cost[h, :-1] = marginal[1:]
        hot_cost[h, -1] = float(np.mean(marginal))
        ub = np.minimum(hp_cfg.electric_max_kw, hp_cfg.thermal_max_kw / cop[h])
        if pump.id in inputs.power_cap_kw:
            ub = np.minimum(ub, inputs.power_cap_kw[pump.id])
        hp_ub[h] = ub
        capacity = pump.capacity_kwh_per_k
        keep = 1.0 - dt * pump.tank.loss_w_per_k / 1000.0 / capacity
        loss_kw = (
            pump.tank.loss_w_per_k / 1000.0 * (pump.tank.temp_min_c - pump.tank.ambient_temp_c)
        )
        tank_rhs[h] = -dt * (inputs.heat_demand_kw[pump.house_id] + loss_kw)
        q0 = capacity * (state.tank_temp_c[pump.tank_id] - pump.tank.temp_min_c)
        tank_rhs[h, 0] += keep * q0
        # the comfort reserve raises the lower end of the band only, never above its top
        tank_lo_rhs[h] = min(state.tank_reserve_k * capacity, pump.band_kwh)
        # the anti-legionella program's hold: the tank at its temperature at every slot end in
        # it (the plant's program heats it there anyway; planned, the heat can come cheaply)
        hygiene = pump.tank.legionella
        hygiene_hold = hold_mask_at(hygiene, slot_ends)
        if hygiene_hold.any():
            hot_kwh = capacity * (hygiene.temp_c - hygiene.tolerance_k / 2 - pump.tank.temp_min_c)
            tank_lo_rhs[h, hygiene_hold] = np.maximum(
                tank_lo_rhs[h, hygiene_hold], min(hot_kwh, pump.band_kwh)
            )
        running = bool(state.hp_on.get(pump.id, False))
        on_init[h] = float(running)
        if pump.id in state.hp_minutes_in_state:
            minutes = state.hp_minutes_in_state[pump.id]
            needed = (hp_cfg.min_on_minutes if running else hp_cfg.min_off_minutes) - minutes
            hold = math.ceil(needed / SLOT_MINUTES) if needed > 0 else 0
            lowest = (
                min(sg_ready_levels_kw(hp_cfg).values())
                if pump.sg_ready
                else hp_cfg.electric_min_kw
            )
            if running:
                # keep running, except where a cap (e.g. §14a dimming) forbids the minimum power
                on_lb[h, :hold] = (ub[:hold] >= lowest).astype(float)
            else:
                on_ub[h, :hold] = 0.0
    p["hp_ub"] = hp_ub
    p["hp_heat"] = dt * cop
    p["tank_rhs"] = tank_rhs
    p["tank_lo_rhs"] = tank_lo_rhs
    p["tank_term_cost"] = np.array(
        [
            -stored_value.get(pump.tank_id, energy_value / float(np.mean(cop[h])))
            for h, pump in enumerate(plant.heat_pumps)
        ]
    )
    p["hot_cost"] = hot_cost
    p.update(ev_params(dm, inputs, state, energy_value))
    if "on" in dm.static_integer_vars:
        p["on_lb"] = on_lb
        p["on_ub"] = on_ub
        continuous = [h for h, u in enumerate(plant.heat_pumps) if not u.sg_ready]
        p["hp_ub_on"] = hp_ub[continuous]
        p["hp_start_rhs"] = -on_init
        p["hp_stop_rhs"] = on_init
    return Coefficients(
        params=p,
        cop=cop,
        integer_battery_slots=(import_weight < 0) | (export_credit < 0),
        integer_grid_slots=import_weight < export_credit,
        import_weight_per_kwh=import_weight,
        linearisation=linearisation,
    )


def ev_short_penalty_per_kwh(config: EVChargerConfig, weights: ObjectiveWeights) -> float:
    """Objective units per kWh a car lacks at its departure: the charger's unmet penalty (EUR),
    plus the grid-import weight of the energy it would have taken, so that a blend objective
    never makes leaving a car short cheaper than charging it."""
    return (
        weights.cost * config.unmet_penalty_eur_per_kwh
        + weights.grid_import_per_kwh / config.charging_efficiency_frac
    )


def ev_params(
    dm: DispatchModel, inputs: DispatchInputs, state: DispatchState, energy_value: float
) -> dict[str, FloatArray]:
    """The EV chargers' Params: power bound (plugged in, under any cap), the energy arriving
    with sessions (and the need now in the first slot), the departures, and what a kWh still
    needed at the horizon's end costs (delivered later at the typical import weight)."""
    n = dm.n_slots
    chargers = dm.plant.ev_chargers
    ub = np.zeros((len(chargers), n))
    rhs = np.zeros((len(chargers), n))
    due = np.zeros((len(chargers), n))
    term = np.zeros(len(chargers))
    for c, unit in enumerate(chargers):
        cfg = unit.config
        marks = session_marks(cfg, inputs.index, dm.config.tz)
        ub[c] = np.where(marks.plugged, cfg.charge_max_kw, 0.0)
        if unit.id in inputs.power_cap_kw:
            ub[c] = np.minimum(ub[c], inputs.power_cap_kw[unit.id])
        rhs[c] = marks.arrival_kwh
        rhs[c, 0] += state.ev_need_kwh.get(unit.id, 0.0)
        due[c] = np.where(marks.departs, 0.0, cfg.vehicle_capacity_kwh)
        term[c] = energy_value / cfg.charging_efficiency_frac
    return {"ev_ub": ub, "ev_rhs": rhs, "ev_due_rhs": due, "ev_term_cost": term}


def direction_rows_needed(
    dm: DispatchModel, coeffs: Coefficients
) -> dict[str, npt.NDArray[np.bool_]]:
    """Where each of the `DIRECTION_ROWS` is part of the formulation, in its index order.

    Charging and discharging a battery in the same slot only moves energy into its losses and
    cycle cost; importing and exporting at once costs the import price and earns the export
    price. Either can lower the objective only where burning energy pays: a negative import
    weight or export credit for the batteries, an export credit above the import weight for
    the connection (where the direction variable is integer:
    `Coefficients.integer_battery_slots`, `integer_grid_slots`). The rows are also kept where
    those prices are zero or equal, which makes running both ways cost nothing and would leave
    the choice to the solver. Elsewhere an optimal plan never runs both ways at once while the
    storage stays within its bounds and no limit forces a surplus to be burnt (tested in
    tests/optimizer/test_direction_rows.py), so the rows are left out there, in districts of
    more than `OptimizerOptions.direction_rows_everywhere_up_to_batteries` batteries (smaller
    ones keep every row).
    """
    nb = len(dm.plant.batteries)
    battery, grid = direction_slots(
        dm.options,
        nb,
        coeffs.import_weight_per_kwh,
        -coeffs.params["cost_export"] / SLOT_HOURS,
    )
    masks = {"z": np.repeat(battery[None, :], nb, axis=0).reshape(-1), "g": grid}
    return {row: masks[var] for row, var in DIRECTION_ROWS.items()}


def direction_slots(
    options: OptimizerOptions,
    n_batteries: int,
    import_weight_per_kwh: FloatArray,
    export_credit_per_kwh: FloatArray,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The slots where the battery and the connection direction rows are part of the
    formulation of a site with `n_batteries` batteries (see `direction_rows_needed`)."""
    n = len(import_weight_per_kwh)
    if n_batteries <= options.direction_rows_everywhere_up_to_batteries:
        return np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    # at equality running both ways costs nothing either: the rows keep such ties out of plans
    battery = (import_weight_per_kwh <= 0) | (export_credit_per_kwh <= 0)
    return battery, import_weight_per_kwh <= export_credit_per_kwh


def set_param_values(dm: DispatchModel, coeffs: Coefficients) -> None:
    """Write values into the Pyomo Params and switch the direction rows on where they are
    needed (for inspection or a from-scratch compile: the reference formulation; the solver
    backend pushes values into HiGHS directly)."""
    m = dm.formulation
    for row, needed in direction_rows_needed(dm, coeffs).items():
        constraint = getattr(m, row)
        for key, active in zip(constraint.keys(), needed.tolist(), strict=True):
            if active:
                constraint[key].activate()
            else:
                constraint[key].deactivate()
    for binding in dm.bindings:
        param = getattr(m, binding.param)
        values = np.asarray(coeffs.params[binding.param], dtype=float).reshape(-1)
        if not param.is_indexed():
            param.set_value(float(values[0]))
            continue
        keys = list(param.keys())
        param.store_values(dict(zip(keys, values.tolist(), strict=True)))
