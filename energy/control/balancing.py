"""District balancing between plans: hold the grid connection at the plan's exchange.

A plan's first slot fixes every battery's power for 15 minutes from forecasts. The household load
and the PV of those minutes are not the forecast's, and what differs passes the grid connection at
the import price (or leaves at the feed-in price), although a battery of the district could often
take it for less: the tariff is settled at the one connection, not per house. Every dispatch cycle
the balancer compares the measured exchange with the planned one and moves the batteries that hold
a power setpoint away from their planned power, cheapest first, by what a kWh from or into each
costs the plan:

- discharging for more import than planned: the battery's stored energy value at the slot's end
  (the plan's dual of its energy balance) over its discharge efficiency, plus its cycle cost; only
  where that is below the import price of the slot;
- charging for less import (or more export) than planned: the stored energy value times the
  charge efficiency, less the cycle cost; only where that is above what the kWh fetches otherwise
  (the feed-in price while the district exports, the import price saved while it imports).

Batteries in grid-target or local mode take their own house's deviation and are left alone; a plan
without duals (rule-based, a MILP) is not balanced, and neither is a battery near the end of its
state-of-charge band in the direction it would be moved. The controller is an integral one: each
cycle the total move is the last one plus `gain` times the deviation measured; what no battery can
take is not carried over (no wind-up), and a new slot starts from its plan again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from energy.control.commands import CommandKind, DeviceCommand
from energy.timegrid import floor_slot
from optimizer import GRID_ID
from optimizer.plant import BatteryUnit, Plant

__all__ = ["SOC_MARGIN_FRAC", "DistrictBalancer"]

#: A battery is not discharged for balancing within this state-of-charge fraction of its lower
#: bound, nor charged within it of its upper bound (its device would stop there anyway).
SOC_MARGIN_FRAC = 0.01


@dataclass(frozen=True)
class _Mover:
    """A battery on a power setpoint and what moving it costs the plan, per kWh."""

    asset_id: str
    planned_kw: float
    down_kw: float  # how far below its planned power it may go (more discharge)
    up_kw: float  # how far above (more charge)
    discharge_cost_per_kwh: float
    charge_value_per_kwh: float


class DistrictBalancer:
    """Moves the batteries on power setpoints so that the grid exchange follows the plan.

    One instance per control loop: it keeps the move it made in the current slot. gain: the share
    of the measured deviation added to the move each cycle (`control.balancing_gain`).
    """

    def __init__(self, plant: Plant, gain: float):
        if not 0 < gain <= 1:
            raise ValueError(f"balancing gain: expected 0 < gain <= 1; found {gain!r}")
        self.gain = gain
        self._batteries = {b.id: b for b in plant.batteries}
        self._slot: pd.Timestamp | None = None
        #: the extra discharge (kW, negative: extra charge) asked of the batteries this slot
        self.move_kw = 0.0

    def adjust(
        self,
        commands: Sequence[DeviceCommand],
        values: Mapping[tuple[str, str], float] | None,
        now: pd.Timestamp,
        grid_kw: float | None,
        soc_frac: Mapping[str, float],
        charge_cap_kw: Mapping[str, float] | None = None,
    ) -> list[DeviceCommand]:
        """The slot's commands with the battery setpoints moved for the measured deviation.

        commands: this slot's commands (`commands_for_slot`); values: the plan's values at the
        slot (`plan_values_at`); grid_kw: the grid exchange measured now (import positive; None
        when unknown: the plan's setpoints stand); soc_frac: the batteries' measured states of
        charge; charge_cap_kw: caps on batteries' charging in force (section 14a dimming).
        """
        slot = floor_slot(now)
        if slot != self._slot:
            self._slot = slot
            self.move_kw = 0.0
        movers = self._movers(commands, values or {}, soc_frac, charge_cap_kw or {})
        if values is None or not movers or grid_kw is None or not math.isfinite(grid_kw):
            self.move_kw = 0.0
            return list(commands)
        planned_kw = values.get((GRID_ID, "import_kw"), 0.0) - values.get(
            (GRID_ID, "export_kw"), 0.0
        )
        wanted = self.move_kw + self.gain * (grid_kw - planned_kw)
        # the exchange with every battery at its planned power: what a move displaces
        unmoved_kw = grid_kw + self.move_kw
        import_price = values.get((GRID_ID, "import_weight_per_kwh"), math.nan)
        export_price = values.get((GRID_ID, "export_credit_per_kwh"), math.nan)
        if wanted > 0:
            # discharging displaces import first, then adds export
            displaced = min(wanted, max(unmoved_kw, 0.0))
            tiers = [(displaced, import_price), (wanted - displaced, export_price)]
            moves = _merit_order(
                tiers,
                [(m.asset_id, m.down_kw, m.discharge_cost_per_kwh) for m in movers],
                cheaper=True,
            )
        else:
            # charging takes export first, then adds import
            taken = min(-wanted, max(-unmoved_kw, 0.0))
            tiers = [(taken, export_price), (-wanted - taken, import_price)]
            up = _merit_order(
                tiers,
                [(m.asset_id, m.up_kw, m.charge_value_per_kwh) for m in movers],
                cheaper=False,
            )
            moves = {asset: -kw for asset, kw in up.items()}
        self.move_kw = sum(moves.values())
        planned = {m.asset_id: m.planned_kw for m in movers}
        return [
            replace(c, value=planned[c.asset_id] - moves[c.asset_id]) if c.asset_id in moves else c
            for c in commands
        ]

    def _movers(
        self,
        commands: Sequence[DeviceCommand],
        values: Mapping[tuple[str, str], float],
        soc_frac: Mapping[str, float],
        charge_cap_kw: Mapping[str, float],
    ) -> list[_Mover]:
        movers = []
        for command in commands:
            battery = self._batteries.get(command.asset_id)
            if battery is None or command.kind is not CommandKind.BATTERY_POWER_KW:
                continue
            if command.value is None or command.source != "plan":
                continue
            stored = values.get((battery.id, "stored_value_eur_per_kwh"), math.nan)
            soc = soc_frac.get(battery.id, math.nan)
            if not (math.isfinite(stored) and math.isfinite(soc)):
                continue
            cap = charge_cap_kw.get(battery.id, math.inf)
            movers.append(_mover(battery, command.value, stored, soc, cap))
        return movers


def _mover(
    battery: BatteryUnit, planned_kw: float, stored: float, soc: float, charge_cap_kw: float
) -> _Mover:
    config = battery.config
    capacity = config.capacity_kwh
    low = battery.energy_min_kwh / capacity + SOC_MARGIN_FRAC
    high = battery.energy_max_kwh / capacity - SOC_MARGIN_FRAC
    charge_max = min(config.charge_max_kw, charge_cap_kw)
    return _Mover(
        asset_id=battery.id,
        planned_kw=planned_kw,
        down_kw=max(0.0, planned_kw + config.discharge_max_kw) if soc > low else 0.0,
        up_kw=max(0.0, charge_max - planned_kw) if soc < high else 0.0,
        discharge_cost_per_kwh=stored / config.discharge_efficiency_frac
        + config.cycle_cost_eur_per_kwh,
        charge_value_per_kwh=stored * config.charge_efficiency_frac - config.cycle_cost_eur_per_kwh,
    )


def _merit_order(
    tiers: list[tuple[float, float]],
    offers: list[tuple[str, float, float]],
    cheaper: bool,
) -> dict[str, float]:
    """Lay each tier's kW (at its price) on the offers (asset, room kW, price per kWh) in merit
    order: the cheapest first where an offer must be cheaper than the tier's price
    (`cheaper`), else the dearest first where it must be worth more."""
    order = sorted(offers, key=lambda o: o[2] if cheaper else -o[2])
    room = {asset: kw for asset, kw, _ in order}
    moves: dict[str, float] = {}
    for total_kw, price in tiers:
        left = total_kw
        for asset, _, offer in order:
            if left <= 0 or not math.isfinite(price):
                break
            if (offer >= price) if cheaper else (offer <= price):
                break
            take = min(room[asset], left)
            if take > 0:
                moves[asset] = moves.get(asset, 0.0) + take
                room[asset] -= take
                left -= take
    return moves
