"""Typed read-outs of the simulated district: one frozen dataclass per device kind.

Powers are averages over the last simulated step (kW); energies are cumulative since the simulator
started (kWh). Sign convention: import from the grid and battery charging are positive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "BatteryReading",
    "ControlMode",
    "DistrictSnapshot",
    "EVChargerReading",
    "HeatPumpReading",
    "HouseReading",
    "MeterReading",
    "PVReading",
    "TankReading",
]


class ControlMode(StrEnum):
    """Who is in charge of a device: its own local controller, or a valid external command."""

    LOCAL = "local"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class MeterReading:
    asset_id: str
    power_kw: float
    import_kwh: float
    export_kwh: float


@dataclass(frozen=True, slots=True)
class PVReading:
    asset_id: str
    power_kw: float
    available_kw: float
    energy_kwh: float
    mode: ControlMode
    limit_kw: float | None
    watchdog_remaining_s: float


@dataclass(frozen=True, slots=True)
class BatteryReading:
    asset_id: str
    soc_frac: float
    energy_kwh: float
    power_kw: float
    mode: ControlMode
    setpoint_kw: float | None
    #: the house's grid exchange the battery holds in grid-target mode (home batteries; None
    #: in local mode and under a power setpoint)
    grid_target_kw: float | None
    watchdog_remaining_s: float
    charged_kwh: float
    discharged_kwh: float
    conversion_loss_kwh: float
    standby_loss_kwh: float
    initial_energy_kwh: float

    @property
    def losses_kwh(self) -> float:
        return self.conversion_loss_kwh + self.standby_loss_kwh

    @property
    def balance_error_kwh(self) -> float:
        """charged - discharged - stored change - losses: zero up to rounding."""
        stored_change = self.energy_kwh - self.initial_energy_kwh
        return self.charged_kwh - self.discharged_kwh - stored_change - self.losses_kwh


@dataclass(frozen=True, slots=True)
class HeatPumpReading:
    asset_id: str
    electric_power_kw: float
    heat_kw: float
    cop: float
    on: bool
    mode: ControlMode
    sg_ready_state: int | None
    setpoint_kw: float | None
    dimming_cap_kw: float | None
    watchdog_remaining_s: float
    tank_temp_c: float
    flow_temp_c: float
    electric_kwh: float
    heat_kwh: float
    starts: int
    minutes_in_state: float = 0.0
    """Time since the unit last switched on or off (at start: as if switched long ago)."""


@dataclass(frozen=True, slots=True)
class TankReading:
    asset_id: str
    temp_c: float
    draw_off_kw: float
    heat_in_kwh: float
    draw_off_kwh: float
    losses_kwh: float
    stored_kwh: float
    initial_stored_kwh: float
    unserved_heat_kwh: float
    comfort_violation_kh: float
    #: anti-legionella programs completed and missed since the start
    legionella_completed: int = 0
    legionella_missed: int = 0

    @property
    def balance_error_kwh(self) -> float:
        """heat in - stored change - draw-off - losses: zero up to rounding."""
        stored_change = self.stored_kwh - self.initial_stored_kwh
        return self.heat_in_kwh - stored_change - self.draw_off_kwh - self.losses_kwh


@dataclass(frozen=True, slots=True)
class EVChargerReading:
    """An EV charger and the car at it. need_kwh: energy the car still needs by its departure
    (into the car); short_kwh: energy cars lacked at their departures, summed since the start."""

    asset_id: str
    power_kw: float
    plugged: bool
    vehicle_state: int
    need_kwh: float
    session_energy_kwh: float
    energy_kwh: float
    delivered_kwh: float
    short_kwh: float
    departures: int
    mode: ControlMode
    setpoint_kw: float | None
    watchdog_remaining_s: float


@dataclass(frozen=True, slots=True)
class HouseReading:
    """The household itself: its electric load and heat demand (before any device acts)."""

    asset_id: str
    load_kw: float
    heat_demand_kw: float
    load_kwh: float
    heat_demand_kwh: float


@dataclass(frozen=True)
class DistrictSnapshot:
    """Every device of the district at one instant; dictionaries are keyed by asset id."""

    time: dt.datetime
    temp_outdoor_c: float
    houses: dict[str, HouseReading] = field(default_factory=dict)
    meters: dict[str, MeterReading] = field(default_factory=dict)
    pv: dict[str, PVReading] = field(default_factory=dict)
    batteries: dict[str, BatteryReading] = field(default_factory=dict)
    heat_pumps: dict[str, HeatPumpReading] = field(default_factory=dict)
    tanks: dict[str, TankReading] = field(default_factory=dict)
    ev_chargers: dict[str, EVChargerReading] = field(default_factory=dict)

    def device(self, asset_id: str) -> object:
        """Any device's reading by asset id."""
        for group in (
            self.meters,
            self.pv,
            self.batteries,
            self.heat_pumps,
            self.tanks,
            self.ev_chargers,
            self.houses,
        ):
            if asset_id in group:
                return group[asset_id]
        raise KeyError(f"snapshot has no device {asset_id!r}")

    @property
    def comfort_violation_kh(self) -> float:
        return sum(t.comfort_violation_kh for t in self.tanks.values())
