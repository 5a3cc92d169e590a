"""Thermal relations shared by the simulator and the optimizer: heat pump COP and tank capacity.

One definition, so that the plan and the simulated plant use the same physics.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from energy.config import HeatPumpConfig, TankConfig

__all__ = [
    "WATER_KWH_PER_L_K",
    "heat_pump_cop",
    "heat_pump_flow_temp_c",
    "heat_pump_source_temp_c",
    "planned_heat_pump_cop",
    "tank_capacity_kwh_per_k",
]

#: Heat capacity of water: 4.186 kJ/(kg K) at 1 kg/L, in kWh per litre and kelvin.
WATER_KWH_PER_L_K = 4.186 / 3600.0
KELVIN_OFFSET = 273.15
#: Smallest temperature lift used in the Carnot formula, so that a warm source cannot blow up the COP.
MIN_LIFT_K = 5.0


def tank_capacity_kwh_per_k(volume_l: float) -> float:
    """Heat stored per kelvin of tank temperature, kWh/K."""
    return volume_l * WATER_KWH_PER_L_K


def heat_pump_source_temp_c(
    heat_pump: HeatPumpConfig, temp_outdoor_c: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Source temperature: outdoor air for air-source units, the configured ground temperature else."""
    outdoor = np.asarray(temp_outdoor_c, dtype=float)
    if heat_pump.source == "air":
        return outdoor
    return np.full_like(outdoor, heat_pump.ground_temp_c)


def heat_pump_cop(
    heat_pump: HeatPumpConfig,
    temp_outdoor_c: npt.ArrayLike,
    supply_temp_c: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float64]:
    """Coefficient of performance (heat out / electricity in) per time step.

    COP = carnot_efficiency * T_supply / (T_supply - T_source), temperatures in kelvin, with the
    lift floored at MIN_LIFT_K and the result clipped to [1, cop_max].
    """
    source = heat_pump_source_temp_c(heat_pump, temp_outdoor_c)
    supply = np.asarray(
        heat_pump.supply_temp_c if supply_temp_c is None else supply_temp_c, dtype=float
    )
    lift_k = np.maximum(supply - source, MIN_LIFT_K)
    cop = heat_pump.carnot_efficiency_frac * (supply + KELVIN_OFFSET) / lift_k
    return np.clip(cop, 1.0, heat_pump.cop_max)


def heat_pump_flow_temp_c(
    heat_pump: HeatPumpConfig, tank_temp_c: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Flow temperature: the configured supply temperature, or the tank's if the tank is warmer
    (the condenser must be at least as warm as the water it heats)."""
    return np.maximum(heat_pump.supply_temp_c, np.asarray(tank_temp_c, dtype=float))


def planned_heat_pump_cop(
    heat_pump: HeatPumpConfig, tank: TankConfig, temp_outdoor_c: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The COP a plan assumes: the unit's COP with its tank in the middle of its comfort band.

    A linear plan cannot let the COP depend on the tank temperature it decides; the middle of the
    band is where the plant's own thermostat keeps the tank, so plan and plant agree on average.
    """
    middle_c = (tank.temp_min_c + tank.temp_max_c) / 2.0
    return heat_pump_cop(heat_pump, temp_outdoor_c, heat_pump_flow_temp_c(heat_pump, middle_c))
