"""From a plan to what each device accepts, for one slot.

`commands_for_slot` is shared by the live dispatch loop and the closed-loop evaluation. It maps
the plan's quantities to one `DeviceCommand` per controllable asset (batteries, heat pumps,
curtailable PV systems, EV chargers), in site order, and applies, in this order of precedence:

1. manual mode: an asset in manual mode gets no command from the plan (only its override);
2. an operator override: a fixed setpoint in the asset's setpoint unit, or "local";
3. the plan, mapped per device kind (below);
4. external limits on top of 2 and 3: the grid operator's dimming cap per heat pump, per
   charging battery and per EV charger (a released charger gets its cap as its limit), and a temporary feed-in limit (section 14a EnWG; safety rule 7: they
   override the optimizer and the operator's overrides).

Per device kind:

- battery: `battery_power_kw` = planned AC power (charging positive), clamped to the ratings;
  where that power is just what the battery's local self-consumption mode would do (cover its
  house's planned deficit or absorb its surplus; for a community battery, the district's at the
  grid connection), or charges from the planned surplus alone, or stays idle while the plan
  exports to the grid a surplus it could store, `release_to_local` instead: the local mode follows the real
  load and PV within seconds, where a fixed setpoint would send every forecast or model error to
  the grid (importing what PV falls short, exporting what the house did not need, keeping room
  for a later surplus that does not come). A setpoint is written only where the plan deviates
  from self-consumption (charging from the grid, holding energy for later while the house draws
  from the grid, discharging beyond the house's need). At a flat feed-in price storing a surplus
  now never costs value; with a time-varying feed-in price a plan may export now on purpose, and
  this release would forgo that. A lossy battery (round trip below LOSSY_ROUND_TRIP_FRAC: the
  redox-flow units) is released for staying idle while the plan exports only while the plan
  still charges it later in the horizon: the plan defers its charge to the last sunny hours
  (its standby loss makes early energy dearer), and the local mode stores now what those hours
  may not bring; the next plan sees the fuller battery and charges it less later. Where the
  plan does not charge it again, filled against the plan it would later be emptied into export
  at a loss, so it is held; a plan made with perfect foresight needs no such hedge and holds it
  too (`hedge_forecast_errors`). A community battery is never released for this.
  Where a setpoint would be written and the plan discharges the battery, or keeps it idle while
  its house exports, a home battery whose device offers grid-target mode gets
  `battery_grid_target_kw` instead: the planned exchange of its house with the grid (planned
  load + heat pump - PV + the battery's planned power, import positive). The battery then
  realises the plan's power where the forecast is right and takes its house's forecast error
  where it is not, as its local mode does (which is the target 0), while still moving the energy
  the plan moves (feeding a neighbour). Where the plan charges it from the grid, or holds its
  energy while the house imports, it keeps the power setpoint: that energy is meant for dearer
  hours, and an error costs less at this hour's price (grid targets there too cost mpc 5.7 EUR
  in a January fortnight). Not for plans made with perfect foresight (`hedge_forecast_errors`),
  nor under a dimming cap on its charging (the cap limits power, not the house's exchange);
- continuous heat pump: `heat_pump_power_kw` = planned electric power, snapped to 0 or
  [electric_min_kw, electric_max_kw] (below half the minimum counts as off), capped; not
  commanded on while the measured state says it switched off less than min_off_minutes ago (it
  would refuse). A plan's "off" is written even within the minimum on time: the unit's own
  compressor protection holds it at its minimum power for the minutes left, where a command
  held for the whole slot would run it up to a slot longer than the plan and the minimum ask;
  comfort guard: when its tank, measured now and cooled over the slot by the plan's heat
  demand, would come within COMFORT_GUARD_K of temp_min_c, it runs at full power whatever the
  plan says; and it is not switched off when the tank could not ride out the slot plus the
  minimum off time (it runs at electric_min_kw instead);
- SG Ready heat pump: `sg_ready_state`, a blunt instrument: the unit's thermostat states
  (2 normal, 3 recommended on) heat the tank to the unit's own setpoint at full power, far
  beyond what a plan asks, so a plan is run with two states only. Each slot the unit runs at
  full power (4 forced on) or not at all (1 lock): it runs when the plan's power for the slot
  is at least half of full power (re-planned every slot, the runs add up to the plan's heat),
  or when its tank, measured now and cooled by the plan's heat demand over the slot plus the
  minimum off time, would come within SG_LOCK_MARGIN_K of temp_min_c. Full power is
  electric_max_kw, or less where thermal_max_kw / COP (at the plan's COP) or a dimming cap
  binds first. The device holds its minimum on and off times against either state. Without a
  measured tank temperature it is never locked (2 normal instead of 1); under a dimming cap
  below electric_min_kw it is never forced (2 normal);
- curtailable PV: `pv_limit_kw` = planned AC output where the plan curtails; otherwise
  `release_to_local` (maximum power point tracking). A feed-in limit tighter than the planned
  export lowers the PV limits by the excess, shared in proportion to planned PV output.

- EV charger: `ev_charge_limit_kw` = planned charging power, clamped to [0, charge_max_kw] (the
  charger charges at most that while its car needs energy); released, it charges at full power
  from the car's arrival, which always serves the driver.

A plan that does not cover the slot is never run: every asset not in manual mode is released to
local mode (safety rule 4); the caller raises the alarm.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from energy.control.planning import ExternalLimits
from energy.site import Site
from energy.store.controls import AssetMode, OverrideKind
from energy.timegrid import SLOT_MINUTES, floor_slot
from optimizer import GRID_ID, DispatchResult, DispatchState
from optimizer.plant import BatteryUnit, HeatPumpUnit, Plant, PVUnit

__all__ = [
    "COMFORT_GUARD_K",
    "SELF_CONSUMPTION_TOLERANCE_KW",
    "SG_LOCK_MARGIN_K",
    "CommandKind",
    "DeviceCommand",
    "Override",
    "commands_for_slot",
    "plan_values_at",
]

logger = logging.getLogger(__name__)

#: An SG Ready unit is locked only while its tank stays at least this far above temp_min_c.
#: Below the planner's comfort reserve (energy.control.planning.TANK_RESERVE_K), so that a plan
#: keeping its tank at the reserve is followed, not overridden.
SG_LOCK_MARGIN_K = 0.5
#: A continuous heat pump whose tank is measured this close to temp_min_c runs at full power,
#: whatever the plan says (comfort guard; minimum off times and dimming caps still hold). Below
#: the planner's comfort reserve, for the same reason.
COMFORT_GUARD_K = 1.0
#: A planned battery power this close to what local self-consumption would do is left to it.
SELF_CONSUMPTION_TOLERANCE_KW = 0.01
#: A battery whose round-trip efficiency is below this is held idle where its plan keeps it
#: idle while the district exports, unless the plan charges it later in the horizon.
LOSSY_ROUND_TRIP_FRAC = 0.85
#: Planned curtailment below this (kW) is round-off, not a limit to write.
_CURTAIL_TOLERANCE_KW = 1e-3
SG_LOCK, SG_NORMAL, SG_FORCED_ON = 1, 2, 4


class CommandKind(StrEnum):
    BATTERY_POWER_KW = "battery_power_kw"
    BATTERY_GRID_TARGET_KW = "battery_grid_target_kw"
    HEAT_PUMP_POWER_KW = "heat_pump_power_kw"
    SG_READY_STATE = "sg_ready_state"
    PV_LIMIT_KW = "pv_limit_kw"
    EV_CHARGE_LIMIT_KW = "ev_charge_limit_kw"
    RELEASE_TO_LOCAL = "release_to_local"


@dataclass(frozen=True)
class DeviceCommand:
    """What to write to one device for one slot. value is None for release_to_local; an SG Ready
    state is an integer 1-4 carried as float. source says why: plan, override, limit or
    release."""

    asset_id: str
    kind: CommandKind
    value: float | None
    source: str = "plan"


@dataclass(frozen=True)
class Override:
    """An operator override: a fixed setpoint (value in the asset's setpoint unit) or local."""

    kind: OverrideKind
    value: float | None = None

    @classmethod
    def of(cls, raw: Override | Mapping[str, Any]) -> Override:
        """From an Override or a row of energy.store.controls.active_overrides."""
        if isinstance(raw, Override):
            return raw
        value = raw.get("value")
        return cls(OverrideKind(raw["kind"]), None if value is None else float(value))


def plan_values_at(
    plan: DispatchResult | pd.DataFrame, slot_start: pd.Timestamp
) -> dict[tuple[str, str], float] | None:
    """The plan's (asset_id, quantity) -> value at a slot; None when the plan does not cover it.

    plan: a DispatchResult, or a stored plan frame with columns asset_id, quantity, slot_start
    and value.
    """
    slot = floor_slot(slot_start)
    if isinstance(plan, DispatchResult):
        position = int(plan.index.searchsorted(slot))
        if position >= len(plan.index) or plan.index[position] != slot:
            return None
        return {key: float(series[position]) for key, series in plan.values.items()}
    if plan.empty:
        return None
    times = pd.DatetimeIndex(plan["slot_start"]).tz_convert("UTC")
    rows = plan[np.asarray(times == slot)]
    if rows.empty:
        return None
    return {
        (str(a), str(q)): float(v)
        for a, q, v in zip(rows["asset_id"], rows["quantity"], rows["value"], strict=True)
    }


def commands_for_slot(
    site: Site,
    plan: DispatchResult | pd.DataFrame,
    slot_start: pd.Timestamp,
    *,
    state: DispatchState | None = None,
    overrides: Mapping[str, Override | Mapping[str, Any]] | None = None,
    modes: Mapping[str, AssetMode | str] | None = None,
    external_limits: ExternalLimits | None = None,
    plant: Plant | None = None,
    self_consumption_to_local: bool = True,
    hedge_forecast_errors: bool = True,
    grid_target_batteries: Collection[str] = frozenset(),
) -> list[DeviceCommand]:
    """One command per controllable asset for the slot containing slot_start (see module doc).

    state: the measured state at the slot start (tank temperatures, heat pumps on and for how
    long); without it SG Ready units are never locked and switching times are left to devices.
    plant: pass a prebuilt Plant of `site` to save rebuilding it every call.
    self_consumption_to_local: hand a battery whose planned power is plain self-consumption to
    its local mode, which follows the real load within seconds instead of the forecast.
    hedge_forecast_errors: release a lossy battery idle in export while its plan charges it
    later (module doc); off for plans made with perfect foresight, where it only costs.
    grid_target_batteries: the home batteries whose devices take a grid target
    (`energy.control.capabilities.grid_target_batteries`); they get one instead of a power
    setpoint where it pays (module doc).
    """
    plant = plant or Plant.from_site(site)
    values = plan_values_at(plan, slot_start)
    if values is None:
        logger.debug(
            "the plan does not cover the slot %s: releasing every automatic asset to local mode",
            floor_slot(slot_start).isoformat(),
        )
    in_force = {a: Override.of(o) for a, o in (overrides or {}).items()}
    modes = modes or {}
    limits = (
        external_limits
        if external_limits is not None and external_limits.in_force(slot_start)
        else None
    )
    caps = dict(limits.heat_pump_cap_kw) if limits is not None else {}
    charge_caps = dict(limits.battery_charge_cap_kw) if limits is not None else {}
    ev_caps = dict(limits.ev_charge_cap_kw) if limits is not None else {}
    commands: list[DeviceCommand] = []

    def planned(asset_id: str, quantity: str) -> float:
        assert values is not None
        return values.get((asset_id, quantity), 0.0)

    for battery in plant.batteries:
        config = battery.config
        override = in_force.get(battery.id)
        if override is not None:
            command = _overridden(
                battery.id,
                CommandKind.BATTERY_POWER_KW,
                override,
                config_clamp=(-config.discharge_max_kw, config.charge_max_kw),
            )
        elif modes.get(battery.id) == AssetMode.MANUAL:
            continue
        elif values is None:
            command = _release(battery.id)
        else:
            power = planned(battery.id, "power_kw")
            power = min(max(power, -config.discharge_max_kw), config.charge_max_kw)
            if self_consumption_to_local and _self_consuming(
                battery,
                power,
                plant,
                planned,
                partial(_charged_later, plan, battery.id, slot_start)
                if hedge_forecast_errors
                else None,
            ):
                command = _release(battery.id, "plan")
            elif (
                hedge_forecast_errors
                and battery.house_id is not None
                and battery.id in grid_target_batteries
                and battery.id not in charge_caps
                and _grid_target_pays(
                    power, target := _grid_target_kw(battery, power, plant, planned)
                )
            ):
                command = DeviceCommand(battery.id, CommandKind.BATTERY_GRID_TARGET_KW, target)
            else:
                command = DeviceCommand(battery.id, CommandKind.BATTERY_POWER_KW, power)
        commands.append(_charge_capped(command, charge_caps.get(battery.id)))

    for hp in plant.heat_pumps:
        override = in_force.get(hp.id)
        kind = CommandKind.SG_READY_STATE if hp.sg_ready else CommandKind.HEAT_PUMP_POWER_KW
        cap = caps.get(hp.id)
        if override is not None:
            command = _overridden(hp.id, kind, override)
        elif modes.get(hp.id) == AssetMode.MANUAL:
            continue
        elif values is None:
            command = _release(hp.id)
        elif hp.sg_ready:
            command = _sg_ready_command(hp, planned, state, cap)
        else:
            command = _continuous_command(hp, planned, state)
        commands.append(_capped(hp, command, cap))

    curtailable = [pv for pv in plant.pvs if pv.config.curtailable]
    pv_limits = _pv_limits(curtailable, values, limits, planned) if values is not None else {}
    for pv in curtailable:
        override = in_force.get(pv.id)
        if override is not None:
            commands.append(_overridden(pv.id, CommandKind.PV_LIMIT_KW, override))
        elif modes.get(pv.id) == AssetMode.MANUAL:
            continue
        elif pv.id in pv_limits:
            source = (
                "limit" if limits is not None and limits.feed_in_limit_kw is not None else "plan"
            )
            commands.append(DeviceCommand(pv.id, CommandKind.PV_LIMIT_KW, pv_limits[pv.id], source))
        else:
            commands.append(_release(pv.id))

    for charger in plant.ev_chargers:
        kind = CommandKind.EV_CHARGE_LIMIT_KW
        clamp = (0.0, charger.config.charge_max_kw)
        override = in_force.get(charger.id)
        cap = ev_caps.get(charger.id)
        if override is not None:
            command = _overridden(charger.id, kind, override, config_clamp=clamp)
        elif modes.get(charger.id) == AssetMode.MANUAL:
            continue
        elif values is None:
            # released, a charger draws its full power: under a dimming cap it gets the cap
            command = (
                _release(charger.id)
                if cap is None
                else DeviceCommand(charger.id, kind, cap, "limit")
            )
        else:
            power = min(max(planned(charger.id, "power_kw"), clamp[0]), clamp[1])
            command = DeviceCommand(charger.id, kind, power)
        commands.append(_charge_capped(command, cap))
    return commands


def _sg_ready_command(
    hp: HeatPumpUnit,
    planned: Callable[[str, str], float],
    state: DispatchState | None,
    cap: float | None,
) -> DeviceCommand:
    """Full power or nothing for the slot (module doc)."""
    full_kw = _full_power_kw(hp, planned(hp.id, "cop"), cap)
    wants_heat = planned(hp.id, "power_kw") >= full_kw / 2.0
    temp_c = None if state is None else state.tank_temp_c.get(hp.tank_id)
    if cap is not None and cap < hp.config.electric_min_kw:
        sg_state = SG_NORMAL
    elif temp_c is None:
        sg_state = SG_FORCED_ON if wants_heat else SG_NORMAL
    else:
        ride_through = SLOT_MINUTES + hp.config.min_off_minutes
        cold = _tank_cold(hp, state, _drop_k(hp, planned, ride_through), SG_LOCK_MARGIN_K)
        sg_state = SG_FORCED_ON if wants_heat or cold else SG_LOCK
    return DeviceCommand(hp.id, CommandKind.SG_READY_STATE, float(sg_state))


def _continuous_command(
    hp: HeatPumpUnit, planned: Callable[[str, str], float], state: DispatchState | None
) -> DeviceCommand:
    """The planned power made runnable, then the comfort guard (module doc)."""
    kind = CommandKind.HEAT_PUMP_POWER_KW
    config = hp.config
    power = _continuous_power(hp, planned(hp.id, "power_kw"), state)
    on, minutes = _minutes(state, hp.id)
    if on is False and minutes < config.min_off_minutes:
        return DeviceCommand(hp.id, kind, power)
    if _tank_cold(hp, state, _drop_k(hp, planned, SLOT_MINUTES)):
        if power < config.electric_max_kw:
            return DeviceCommand(hp.id, kind, config.electric_max_kw, "guard")
    elif power == 0.0 and _tank_cold(
        hp, state, _drop_k(hp, planned, SLOT_MINUTES + config.min_off_minutes)
    ):
        # switching off now would hold the unit off for min_off_minutes: too long
        return DeviceCommand(hp.id, kind, config.electric_min_kw, "guard")
    return DeviceCommand(hp.id, kind, power)


def _release(asset_id: str, source: str = "release") -> DeviceCommand:
    return DeviceCommand(asset_id, CommandKind.RELEASE_TO_LOCAL, None, source)


def _self_consuming(
    battery: BatteryUnit,
    power_kw: float,
    plant: Plant,
    planned: Callable[[str, str], float],
    charged_later: Callable[[], bool] | None,
) -> bool:
    """Whether the planned power is what the battery's local self-consumption mode would do:
    cover the deficit (or absorb the surplus) of its house, or, for a community battery, of
    the district at the grid connection, within its power ratings.

    charged_later: whether the plan charges this battery in a later slot (asked only for a
    lossy battery idle while the plan exports; None: such a battery is held)."""
    if battery.house_id is not None:
        net = _house_net_kw(battery.house_id, plant, planned)
    else:
        net = planned(GRID_ID, "import_kw") - planned(GRID_ID, "export_kw") - power_kw
    config = battery.config
    local = min(max(-net, -config.discharge_max_kw), config.charge_max_kw)
    if abs(local - power_kw) <= SELF_CONSUMPTION_TOLERANCE_KW:
        return True
    tolerance = SELF_CONSUMPTION_TOLERANCE_KW
    # charging from the surplus alone: the local mode absorbs what is really there, where a fixed
    # setpoint would import whatever PV falls short of the forecast
    if 0.0 < power_kw <= local + tolerance:
        return True
    # a home battery idle while the plan exports a surplus it could store: holding room for a
    # surplus the plan expects later loses this one when the later surplus does not come (and
    # gains nothing at a flat feed-in price). Only a surplus that leaves the district: a house's
    # surplus the plan gives to another house's heat pump is not the home battery's to take. A
    # community battery is never released for this: its local mode would absorb the whole
    # district's surplus; a lossy store (a flow battery's round trip is about 74-76 %) only while
    # the plan charges it later anyway: filled against the plan, it is later emptied into export
    # at a loss
    if battery.house_id is None:
        return False
    exported = planned(GRID_ID, "export_kw") > tolerance
    idle_in_export = exported and local > tolerance and abs(power_kw) <= tolerance
    if not idle_in_export or not _lossy(battery):
        return idle_in_export
    return charged_later is not None and charged_later()


def _house_net_kw(house_id: str, plant: Plant, planned: Callable[[str, str], float]) -> float:
    """The house's planned exchange with the grid before its battery (import positive)."""
    net = planned(house_id, "load_kw")
    net += sum(planned(hp.id, "power_kw") for hp in plant.heat_pumps if hp.house_id == house_id)
    net -= sum(planned(pv.id, "power_kw") for pv in plant.pvs if pv.house_id == house_id)
    return net


def _grid_target_kw(
    battery: BatteryUnit, power_kw: float, plant: Plant, planned: Callable[[str, str], float]
) -> float:
    """The house's planned exchange with the grid with its battery at `power_kw`."""
    assert battery.house_id is not None
    return _house_net_kw(battery.house_id, plant, planned) + power_kw


def _grid_target_pays(power_kw: float, target_kw: float) -> bool:
    """Whether the battery should take its house's forecast error (grid-target mode): where
    the plan discharges it, or keeps it idle while its house exports. Not where the plan charges
    it from the grid or holds its energy while the house imports: that energy is kept for dearer
    hours, and the error costs less at this hour's price than at theirs."""
    tolerance = SELF_CONSUMPTION_TOLERANCE_KW
    return power_kw < -tolerance or target_kw <= tolerance


def _charged_later(
    plan: DispatchResult | pd.DataFrame, battery_id: str, slot_start: pd.Timestamp
) -> bool:
    """Whether the plan charges the battery in a slot after the one containing slot_start."""
    slot = floor_slot(slot_start)
    if isinstance(plan, DispatchResult):
        power = plan.values.get((battery_id, "power_kw"))
        if power is None:
            return False
        later = np.asarray(power)[int(plan.index.searchsorted(slot, side="right")) :]
    else:
        rows = plan[(plan["asset_id"] == battery_id) & (plan["quantity"] == "power_kw")]
        times = pd.DatetimeIndex(rows["slot_start"]).tz_convert("UTC")
        later = rows["value"].to_numpy(dtype=float)[np.asarray(times > slot)]
    return bool((later > SELF_CONSUMPTION_TOLERANCE_KW).any())


def _lossy(battery: BatteryUnit) -> bool:
    """A store whose round trip loses more than LOSSY_ROUND_TRIP_FRAC allows (a redox-flow
    battery's is about 76 %): filled by its local mode against the plan, it is later emptied
    into export at a loss, so it is released in export only while its plan charges it later."""
    config = battery.config
    return config.charge_efficiency_frac * config.discharge_efficiency_frac < LOSSY_ROUND_TRIP_FRAC


def _drop_k(hp: HeatPumpUnit, planned: Callable[[str, str], float], minutes: float) -> float:
    """How far the tank cools over `minutes` with no heat from the pump, at the plan's heat
    demand of the house in this slot (the forecast) plus standby loss at the minimum."""
    loss_kw = hp.tank.loss_w_per_k * max(hp.tank.temp_min_c - hp.tank.ambient_temp_c, 0.0) / 1e3
    demand_kw = max(planned(hp.house_id, "heat_demand_kw"), 0.0) + loss_kw
    return demand_kw * minutes / 60.0 / hp.capacity_kwh_per_k


def _tank_cold(
    hp: HeatPumpUnit,
    state: DispatchState | None,
    drop_k: float,
    margin_k: float = COMFORT_GUARD_K,
) -> bool:
    """Whether the measured tank, cooled by drop_k over the slot, would come within margin_k of
    its minimum (False without a measured tank temperature)."""
    if state is None:
        return False
    temp_c = state.tank_temp_c.get(hp.tank_id)
    return temp_c is not None and temp_c - drop_k < hp.tank.temp_min_c + margin_k


def _overridden(
    asset_id: str,
    kind: CommandKind,
    override: Override,
    config_clamp: tuple[float, float] | None = None,
) -> DeviceCommand:
    if override.kind == OverrideKind.LOCAL or override.value is None:
        return DeviceCommand(asset_id, CommandKind.RELEASE_TO_LOCAL, None, "override")
    value = override.value
    if config_clamp is not None:
        value = min(max(value, config_clamp[0]), config_clamp[1])
    return DeviceCommand(asset_id, kind, value, "override")


def _capped(hp: HeatPumpUnit, command: DeviceCommand, cap: float | None) -> DeviceCommand:
    """Apply a dimming cap to a heat pump command (the device enforces it as well)."""
    if cap is None or command.value is None:
        return command
    if command.kind == CommandKind.HEAT_PUMP_POWER_KW and command.value > cap:
        value = 0.0 if cap < hp.config.electric_min_kw else cap
        return DeviceCommand(command.asset_id, command.kind, value, "limit")
    forcing = command.kind == CommandKind.SG_READY_STATE and command.value > SG_NORMAL
    if forcing and cap < hp.config.electric_min_kw:
        return DeviceCommand(command.asset_id, command.kind, float(SG_NORMAL), "limit")
    return command


def _charge_capped(command: DeviceCommand, cap: float | None) -> DeviceCommand:
    """Apply a dimming cap to a battery's or EV charger's charging (a battery's discharging and
    local mode are not drawn from the grid: its self-consumption mode charges from surplus
    only; a released charger gets the cap as its limit instead, above)."""
    if cap is None or command.value is None or command.value <= cap:
        return command
    return DeviceCommand(command.asset_id, command.kind, cap, "limit")


def _minutes(state: DispatchState | None, hp_id: str) -> tuple[bool | None, float]:
    """(on, minutes in that state) from the measured state; (None, inf) when unknown."""
    if state is None or hp_id not in state.hp_on:
        return None, math.inf
    return bool(state.hp_on[hp_id]), float(state.hp_minutes_in_state.get(hp_id, math.inf))


def _continuous_power(hp: HeatPumpUnit, power_kw: float, state: DispatchState | None) -> float:
    config = hp.config
    wants_on = power_kw >= config.electric_min_kw / 2.0
    on, minutes = _minutes(state, hp.id)
    if on is False and wants_on and minutes < config.min_off_minutes:
        return 0.0
    if not wants_on:
        return 0.0
    return float(min(max(power_kw, config.electric_min_kw), config.electric_max_kw))


def _full_power_kw(hp: HeatPumpUnit, cop: float, cap: float | None) -> float:
    """The most electric power the unit can run in the slot: electric_max_kw, less where the
    planned COP makes thermal_max_kw bind first (the plan's own upper bound), and under a
    dimming cap; never below electric_min_kw. Without a planned COP: electric_max_kw."""
    config = hp.config
    full = config.electric_max_kw
    if cop > 0:
        full = min(full, config.thermal_max_kw / cop)
    if cap is not None:
        full = min(full, cap)
    return max(full, config.electric_min_kw)


def _pv_limits(
    pvs: list[PVUnit],
    values: Mapping[tuple[str, str], float] | None,
    limits: ExternalLimits | None,
    planned: Any,
) -> dict[str, float]:
    """PV limits to write: planned curtailment, tightened by a feed-in limit if one is in force."""
    out: dict[str, float] = {}
    for pv in pvs:
        if planned(pv.id, "curtailed_kw") > _CURTAIL_TOLERANCE_KW:
            out[pv.id] = max(0.0, planned(pv.id, "power_kw"))
    if limits is None or limits.feed_in_limit_kw is None or values is None:
        return out
    excess = planned(GRID_ID, "export_kw") - limits.feed_in_limit_kw
    if excess <= 0:
        return out
    output = {pv.id: max(0.0, planned(pv.id, "power_kw")) for pv in pvs}
    total = sum(output.values())
    if total <= 0:
        return out
    for pv_id, power in output.items():
        out[pv_id] = max(0.0, power - excess * power / total)
    return out
