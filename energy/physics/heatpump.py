"""Heat pumps as one vectorised bank: local thermostat, external commands, limits and switching.

What decides a unit's electric power in a step (`HeatPumpBank.decide`):

1. the local thermostat keeps a call for heat with hysteresis on the tank temperature: on below
   `upper - hysteresis`, off at `upper`, where upper = min(thermostat target + hysteresis / 2,
   temp_max_c); while calling, the unit runs at full power min(electric_max_kw, thermal_max_kw / COP);
2. continuous units with a valid external setpoint run at that setpoint instead (0 = off);
3. SG Ready units follow their state: 1 lock = off; 2 normal = thermostat; 3 recommended on =
   thermostat with its target raised by sg_ready_boost_k; 4 forced on = full power until the tank
   reaches temp_max_c (and again once it has cooled by the hysteresis);
4. the external power cap (grid-operator dimming, section 14a EnWG) always applies; a cap below
   electric_min_kw stops the unit;
5. minimum on and off times hold against every command; only the tank's upper bound and the cap
   override a minimum on time;
6. the tank cannot exceed temp_max_c: heat is limited to the tank's headroom and the unit stops
   once the tank is full;
7. the weekly anti-legionella program (`energy.physics.hygiene`) runs a unit at full power over
   any command (not over the cap) while its tank is below the program's temperature.

The COP comes from the shared `energy.thermal.heat_pump_cop_at_tank` (the function the optimizer
plans with), evaluated with the flow temperature max(supply_temp_c, tank temperature): the
condenser has to be at least as warm as the tank. The
district re-evaluates it at every slot start (`update_cop`) and holds it within the slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from energy.config import HeatPumpConfig, HeatPumpControl, TankConfig
from energy.thermal import heat_pump_cop_at_tank, heat_pump_flow_temp_c

__all__ = ["SG_FORCED_ON", "SG_LOCK", "SG_NORMAL", "SG_RECOMMENDED_ON", "HeatPumpBank"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

SG_LOCK, SG_NORMAL, SG_RECOMMENDED_ON, SG_FORCED_ON = 1, 2, 3, 4
_US_PER_MIN = 60_000_000
#: Tank temperatures this close to temp_max_c count as full (guards float rounding).
_FULL_TOLERANCE_K = 1e-6


def thermostat_target_c(heat_pump: HeatPumpConfig, tank: TankConfig) -> float:
    """The local thermostat's target: configured, else the middle of the tank's band."""
    if heat_pump.thermostat_setpoint_c is not None:
        return heat_pump.thermostat_setpoint_c
    return (tank.temp_min_c + tank.temp_max_c) / 2.0


class HeatPumpBank:
    """Parameters, switching state and energy counters of a set of heat pumps (one per tank)."""

    def __init__(
        self,
        ids: Sequence[str],
        configs: Sequence[HeatPumpConfig],
        tanks: Sequence[TankConfig],
        start_us: int,
    ):
        self.ids = tuple(ids)
        self.configs = tuple(configs)
        self.sg_ready = np.array(
            [c.control == HeatPumpControl.SG_READY for c in configs], dtype=bool
        )
        self.electric_min_kw = np.array([c.electric_min_kw for c in configs], dtype=float)
        self.electric_max_kw = np.array([c.electric_max_kw for c in configs], dtype=float)
        self.thermal_max_kw = np.array([c.thermal_max_kw for c in configs], dtype=float)
        self.supply_temp_c = np.array([c.supply_temp_c for c in configs], dtype=float)
        self.min_on_us = np.array([c.min_on_minutes * _US_PER_MIN for c in configs], dtype=np.int64)
        self.min_off_us = np.array(
            [c.min_off_minutes * _US_PER_MIN for c in configs], dtype=np.int64
        )
        self.target_c = np.array(
            [thermostat_target_c(c, t) for c, t in zip(configs, tanks, strict=True)]
        )
        self.hysteresis_k = np.array([c.thermostat_hysteresis_k for c in configs], dtype=float)
        self.boost_k = np.array([c.sg_ready_boost_k for c in configs], dtype=float)
        self.temp_max_c = np.array([t.temp_max_c for t in tanks], dtype=float)
        n = len(self.ids)
        self.on = np.zeros(n, dtype=bool)
        self.calling = np.zeros(n, dtype=bool)
        # as if switched off long ago: free to start at once
        settled_us = int(max(self.min_on_us.max(initial=0), self.min_off_us.max(initial=0)))
        self.switched_us = np.full(n, start_us - settled_us, dtype=np.int64)
        self.cop = np.ones(n)
        self._full_kw = self.electric_max_kw.copy()
        self._normal_upper_c = np.minimum(self.target_c + self.hysteresis_k / 2.0, self.temp_max_c)
        self.flow_temp_c = self.supply_temp_c.copy()
        self.electric_kw = np.zeros(n)
        self.heat_kw = np.zeros(n)
        self.electric_kwh = np.zeros(n)
        self.heat_kwh = np.zeros(n)
        self.starts = np.zeros(n, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def update_cop(self, temp_outdoor_c: float, tank_temp_c: FloatArray) -> None:
        """Re-evaluate each unit's COP for the current outdoor and tank temperatures."""
        self.flow_temp_c = np.array(
            [
                float(heat_pump_flow_temp_c(c, t))
                for c, t in zip(self.configs, tank_temp_c, strict=True)
            ]
        )
        self.cop = np.array(
            [
                float(heat_pump_cop_at_tank(config, temp_outdoor_c, t))
                for config, t in zip(self.configs, tank_temp_c, strict=True)
            ]
        )
        self._full_kw = np.minimum(self.electric_max_kw, self.thermal_max_kw / self.cop)

    def thermostat_upper_c(self, sg_state: IntArray | None = None) -> FloatArray:
        """Tank temperature at which each unit's thermostat stops calling for heat, for the given
        SG Ready states (None: every unit normal)."""
        if sg_state is None:
            return self._normal_upper_c
        boost = np.where(sg_state == SG_RECOMMENDED_ON, self.boost_k, 0.0)
        upper = np.minimum(self.target_c + boost + self.hysteresis_k / 2.0, self.temp_max_c)
        return np.where(sg_state == SG_FORCED_ON, self.temp_max_c, upper)

    def decide(
        self,
        now_us: int,
        dt_h: float,
        tank_temp_c: FloatArray,
        headroom_kw: FloatArray,
        *,
        setpoint_kw: FloatArray | None = None,
        setpoint_valid: BoolArray | None = None,
        sg_state: IntArray | None = None,
        cap_kw: FloatArray | None = None,
        upper_c: FloatArray | None = None,
        forced: BoolArray | None = None,
    ) -> FloatArray:
        """Electric power of every unit for the next step; returns the heat delivered (kW).

        Commands are optional (None = no unit has one): setpoint_kw applies where setpoint_valid
        (which must exclude SG Ready units); sg_state holds SG_NORMAL for units without a valid SG
        Ready command; cap_kw is +inf where there is no cap. upper_c: `thermostat_upper_c(sg_state)`
        if the caller holds it already (it changes only with the SG Ready states). forced: units
        the anti-legionella program heats at full power, over any command (not over the cap).
        """
        upper = self.thermostat_upper_c(sg_state) if upper_c is None else upper_c
        self.calling = (tank_temp_c < upper - self.hysteresis_k) | (
            self.calling & (tank_temp_c < upper)
        )

        wanted = np.where(self.calling, self._full_kw, 0.0)
        if setpoint_kw is not None and setpoint_valid is not None:
            wanted = np.where(setpoint_valid, setpoint_kw, wanted)
        if sg_state is not None:
            wanted = np.where(sg_state == SG_LOCK, 0.0, wanted)
        if forced is not None:
            # the local anti-legionella program: full power whatever the commands say
            wanted = np.where(forced, self._full_kw, wanted)
        blocked = tank_temp_c >= self.temp_max_c - _FULL_TOLERANCE_K
        upper_kw = self.electric_max_kw
        if cap_kw is not None:
            wanted = np.minimum(wanted, cap_kw)
            blocked |= cap_kw < self.electric_min_kw
            upper_kw = np.minimum(upper_kw, cap_kw)
        wants_on = wanted > 0.0

        since_us = now_us - self.switched_us
        held_on = self.on & ~wants_on & (since_us < self.min_on_us)
        held_off = ~self.on & wants_on & (since_us < self.min_off_us)
        on = ((wants_on & ~held_off) | held_on) & ~blocked

        electric = np.minimum(np.maximum(wanted, self.electric_min_kw), upper_kw) * on
        heat = np.minimum(np.minimum(electric * self.cop, self.thermal_max_kw), headroom_kw)
        electric = heat / self.cop

        switched = on != self.on
        if switched.any():
            self.starts += switched & on
            self.switched_us = np.where(switched, now_us, self.switched_us)
        self.on = on
        self.electric_kw = electric
        self.heat_kw = heat
        self.electric_kwh += electric * dt_h
        self.heat_kwh += heat * dt_h
        return heat
