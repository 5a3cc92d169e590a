"""Thermal relations shared by the simulator and the optimizer: heat pump COP and tank capacity.

One definition, so that the plan and the simulated plant use the same physics. The COP depends on
the tank temperature through the flow temperature: the condenser has to be at least as warm as the
tank it heats, so every kelvin stored above the supply temperature costs electricity
(`heat_pump_cop_at_tank`, and its slope `heat_pump_electricity_slope_per_k` for the plan's
linearisation).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from energy.config import HeatPumpConfig

__all__ = [
    "WATER_KWH_PER_L_K",
    "heat_pump_cop",
    "heat_pump_cop_at_tank",
    "heat_pump_electricity_slope_per_k",
    "heat_pump_flow_temp_c",
    "heat_pump_source_temp_c",
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


def heat_pump_cop_at_tank(
    heat_pump: HeatPumpConfig, temp_outdoor_c: npt.ArrayLike, tank_temp_c: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The COP of a unit heating its tank at `tank_temp_c`: the one function the plant (simulator)
    and the plan (optimizer) both evaluate."""
    return heat_pump_cop(heat_pump, temp_outdoor_c, heat_pump_flow_temp_c(heat_pump, tank_temp_c))


#: Half the step of the central difference behind `heat_pump_electricity_slope_per_k`, K.
_SLOPE_STEP_K = 0.5


def heat_pump_electricity_slope_per_k(
    heat_pump: HeatPumpConfig, temp_outdoor_c: npt.ArrayLike, tank_temp_c: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """d(1/COP)/dT_tank: extra kWh of electricity per kWh of heat for each kelvin the tank is
    warmer (>= 0; zero below the supply temperature, where the flow temperature does not move).

    A central difference of `heat_pump_cop_at_tank`, so that the clipping at cop_max and the
    flow temperature's floor act on the slope exactly as on the COP itself.
    """
    tank = np.asarray(tank_temp_c, dtype=float)
    warmer = 1.0 / heat_pump_cop_at_tank(heat_pump, temp_outdoor_c, tank + _SLOPE_STEP_K)
    colder = 1.0 / heat_pump_cop_at_tank(heat_pump, temp_outdoor_c, tank - _SLOPE_STEP_K)
    return np.maximum((warmer - colder) / (2.0 * _SLOPE_STEP_K), 0.0)
