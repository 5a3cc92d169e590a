"""Plans without a solver: the rule-based safe plan and a previous plan shifted in time.

Both run the same forward simulation of the district slot by slot, so every plan they produce
respects device power limits and battery state-of-charge bounds by construction:
- heat pumps steer their tank towards the middle of the comfort band (a thermostat with the
  heat pump's power range, thermal limit and any §14a dimming cap);
- house batteries soak up their house's PV surplus and cover its deficit (self-consumption);
  community batteries do the same for the district's remainder;
- EV chargers charge at full power (under any cap) from a car's arrival until it has its
  session's energy, as a wallbox does on its own;
- PV is curtailed only where export would exceed the connection's feed-in limit.
A shifted plan keeps the previous plan's battery and heat pump setpoints where it has them,
clamped to what is feasible from the measured state, and follows the rules after its end.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import SiteConfig
from energy.ev import session_marks
from energy.thermal import heat_pump_cop_at_tank
from energy.timegrid import SLOT_HOURS
from optimizer.inputs import DispatchInputs, DispatchState
from optimizer.plant import EVChargerUnit, Plant, sg_ready_levels_kw
from optimizer.result import GRID_ID, PlanValues

__all__ = ["rule_based_values", "shifted_values", "simulate_plan"]

FloatArray = npt.NDArray[np.float64]


def simulate_plan(
    config: SiteConfig,
    plant: Plant,
    inputs: DispatchInputs,
    state: DispatchState,
    battery_request_kw: FloatArray | None = None,
    heat_pump_request_kw: FloatArray | None = None,
) -> PlanValues:
    """Simulate the horizon; requested setpoints (batteries x slots, heat pumps x slots; NaN =
    follow the rules) are clamped to what the devices and their state allow."""
    dt = SLOT_HOURS
    n = inputs.n_slots
    nb, nh = len(plant.batteries), len(plant.heat_pumps)
    batt_req = np.full((nb, n), np.nan) if battery_request_kw is None else battery_request_kw
    hp_req = np.full((nh, n), np.nan) if heat_pump_request_kw is None else heat_pump_request_kw
    values: PlanValues = {}

    # heat pumps and tanks: independent of the electric side
    hp_power = np.zeros((nh, n))
    for h, pump in enumerate(plant.heat_pumps):
        hp_cfg = pump.config
        # the rule keeps the tank mid-band: its COP there
        middle_c = (pump.tank.temp_min_c + pump.tank.temp_max_c) / 2.0
        cop = heat_pump_cop_at_tank(hp_cfg, inputs.temp_outdoor_c, middle_c)
        ub = np.minimum(hp_cfg.electric_max_kw, hp_cfg.thermal_max_kw / cop)
        if pump.id in inputs.power_cap_kw:
            ub = np.minimum(ub, inputs.power_cap_kw[pump.id])
        capacity = pump.capacity_kwh_per_k
        keep = 1.0 - dt * pump.tank.loss_w_per_k / 1000.0 / capacity
        loss_kw = (
            pump.tank.loss_w_per_k / 1000.0 * (pump.tank.temp_min_c - pump.tank.ambient_temp_c)
        )
        demand = inputs.heat_demand_kw[pump.house_id]
        target = pump.band_kwh / 2.0
        q = capacity * (state.tank_temp_c[pump.tank_id] - pump.tank.temp_min_c)
        levels = sorted(sg_ready_levels_kw(hp_cfg).values())
        energy = np.zeros(n)
        for t in range(n):
            if np.isnan(hp_req[h, t]):
                heat_kw = (target - keep * q) / dt + demand[t] + loss_kw
                power = max(0.0, heat_kw / cop[t])
                if power > 0:
                    # run at least at the lowest power (or SG Ready level) the pump supports
                    floor = levels[0] if pump.sg_ready else hp_cfg.electric_min_kw
                    power = max(power, floor)
                    if pump.sg_ready:
                        power = next((lv for lv in levels if lv >= power - 1e-9), levels[-1])
            else:
                power = max(0.0, float(hp_req[h, t]))
            power = min(power, float(ub[t]))
            if pump.sg_ready and 0 < power < levels[0]:
                power = 0.0
            hp_power[h, t] = power
            q = keep * q + dt * (cop[t] * power - demand[t] - loss_kw)
            energy[t] = q
        values[(pump.id, "power_kw")] = hp_power[h]
        values[(pump.id, "heat_kw")] = cop * hp_power[h]
        values[(pump.id, "cop")] = cop
        values[(pump.id, "on")] = (hp_power[h] > 0).astype(float)
        values[(pump.tank_id, "energy_end_kwh")] = energy
        values[(pump.tank_id, "temp_end_c")] = pump.tank.temp_min_c + energy / capacity

    # electric side: per-house net demand, then batteries, then the grid
    house_net = {house: inputs.load_kw[house].copy() for house in plant.houses}
    for h, pump in enumerate(plant.heat_pumps):
        house_net[pump.house_id] = house_net[pump.house_id] + hp_power[h]
    pv_total = np.zeros(n)
    for pv_unit in plant.pvs:
        house_net[pv_unit.house_id] = house_net[pv_unit.house_id] - inputs.pv_kw[pv_unit.id]
        pv_total += inputs.pv_kw[pv_unit.id]
    energy_now = np.array([state.soc_frac[b.id] * b.config.capacity_kwh for b in plant.batteries])
    battery_power = np.zeros((nb, n))
    battery_energy = np.zeros((nb, n))
    district_net = np.zeros(n)
    for t in range(n):
        residual = {house: float(net[t]) for house, net in house_net.items()}
        community_residual = 0.0
        order = sorted(range(nb), key=lambda i: plant.batteries[i].house_id is None)
        for i in order:
            unit = plant.batteries[i]
            cfg = unit.config
            house = unit.house_id
            need = (
                residual[house]
                if house is not None
                else sum(residual.values()) + community_residual
            )
            keep = 1.0 - cfg.standby_loss_frac_per_h * dt
            stored = keep * energy_now[i]
            max_charge = min(
                cfg.charge_max_kw,
                max(0.0, unit.energy_max_kwh - stored) / (dt * cfg.charge_efficiency_frac),
            )
            max_discharge = min(
                cfg.discharge_max_kw,
                max(0.0, stored - unit.energy_min_kwh) * cfg.discharge_efficiency_frac / dt,
            )
            wanted = -need if np.isnan(batt_req[i, t]) else float(batt_req[i, t])
            if stored < unit.energy_min_kwh:
                # standby loss took the battery below its minimum: top it up, as a BMS would
                wanted = max(
                    wanted, (unit.energy_min_kwh - stored) / (dt * cfg.charge_efficiency_frac)
                )
            power = float(np.clip(wanted, -max_discharge, max_charge))
            battery_power[i, t] = power
            if power >= 0:
                energy_now[i] = stored + dt * cfg.charge_efficiency_frac * power
            else:
                energy_now[i] = stored + dt * power / cfg.discharge_efficiency_frac
            battery_energy[i, t] = energy_now[i]
            if house is not None:
                residual[house] += power
            else:
                community_residual += power
        district_net[t] = sum(residual.values()) + community_residual
    for i, unit in enumerate(plant.batteries):
        values[(unit.id, "power_kw")] = battery_power[i]
        values[(unit.id, "energy_end_kwh")] = battery_energy[i]
        values[(unit.id, "soc_end_frac")] = battery_energy[i] / unit.config.capacity_kwh

    for charger in plant.ev_chargers:
        power, need_end = _charge_on_arrival(config, charger, inputs, state)
        values[(charger.id, "power_kw")] = power
        values[(charger.id, "need_end_kwh")] = need_end
        district_net = district_net + power

    grid = config.grid
    export_limit = (
        grid.export_limit_kw
        if grid.feed_in_limit_kw is None
        else min(grid.export_limit_kw, grid.feed_in_limit_kw)
    )
    export = np.clip(-district_net, 0.0, None)
    curtailable_pv = sum(
        (inputs.pv_kw[u.id] for u in plant.pvs if u.config.curtailable), np.zeros(n)
    )
    curtail_total = np.minimum(np.clip(export - export_limit, 0.0, None), curtailable_pv)
    share = np.divide(curtail_total, curtailable_pv, out=np.zeros(n), where=curtailable_pv > 0)
    for pv_unit in plant.pvs:
        curtailed = inputs.pv_kw[pv_unit.id] * share if pv_unit.config.curtailable else np.zeros(n)
        values[(pv_unit.id, "power_kw")] = inputs.pv_kw[pv_unit.id] - curtailed
        values[(pv_unit.id, "curtailed_kw")] = curtailed
    district_net = district_net + curtail_total
    values[(GRID_ID, "import_kw")] = np.clip(district_net, 0.0, None)
    values[(GRID_ID, "export_kw")] = np.clip(-district_net, 0.0, None)
    values[(GRID_ID, "balance_price_eur_per_kwh")] = np.full(n, np.nan)
    for house in plant.houses:
        values[(house, "load_kw")] = inputs.load_kw[house]
        if house in inputs.heat_demand_kw:
            values[(house, "heat_demand_kw")] = inputs.heat_demand_kw[house]
    return values


def _charge_on_arrival(
    config: SiteConfig, charger: EVChargerUnit, inputs: DispatchInputs, state: DispatchState
) -> tuple[FloatArray, FloatArray]:
    """A charger's local behaviour over the horizon: AC power and the need left per slot end."""
    dt = SLOT_HOURS
    cfg = charger.config
    marks = session_marks(cfg, inputs.index, config.tz)
    limit = np.where(marks.plugged, cfg.charge_max_kw, 0.0)
    if charger.id in inputs.power_cap_kw:
        limit = np.minimum(limit, inputs.power_cap_kw[charger.id])
    need = state.ev_need_kwh.get(charger.id, 0.0)
    power = np.zeros(inputs.n_slots)
    need_end = np.zeros(inputs.n_slots)
    for t in range(inputs.n_slots):
        need += float(marks.arrival_kwh[t])
        power[t] = min(float(limit[t]), need / (cfg.charging_efficiency_frac * dt))
        need = max(0.0, need - power[t] * cfg.charging_efficiency_frac * dt)
        need_end[t] = need
    return power, need_end


def rule_based_values(
    config: SiteConfig, plant: Plant, inputs: DispatchInputs, state: DispatchState
) -> PlanValues:
    """The safe rule-based plan (see module docstring)."""
    return simulate_plan(config, plant, inputs, state)


def shifted_values(
    config: SiteConfig,
    plant: Plant,
    inputs: DispatchInputs,
    state: DispatchState,
    previous_index: pd.DatetimeIndex,
    previous: PlanValues,
) -> tuple[PlanValues, int]:
    """The previous plan's setpoints moved onto the new horizon; returns the plan and how many
    slots came from the previous plan (0 means nothing overlapped)."""
    prev_index = pd.DatetimeIndex(previous_index)
    positions = prev_index.get_indexer(inputs.index)
    covered = positions >= 0
    n = inputs.n_slots
    batt = np.full((len(plant.batteries), n), np.nan)
    hps = np.full((len(plant.heat_pumps), n), np.nan)
    for i, unit in enumerate(plant.batteries):
        if (unit.id, "power_kw") in previous:
            batt[i, covered] = previous[(unit.id, "power_kw")][positions[covered]]
    for h, pump in enumerate(plant.heat_pumps):
        if (pump.id, "power_kw") in previous:
            hps[h, covered] = previous[(pump.id, "power_kw")][positions[covered]]
    return simulate_plan(config, plant, inputs, state, batt, hps), int(covered.sum())
