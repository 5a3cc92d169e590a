"""The controllable parts of a site, flattened into the lists the optimizer works with.

One place that knows how site assets map to model elements: batteries (house batteries and
community batteries), heat pumps with the tank they feed, PV systems, EV chargers and houses. Derived physical
constants (tank heat capacity, comfort band in kWh) come from energy.thermal, shared with the
simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from energy.config import (
    BatteryConfig,
    EVChargerConfig,
    HeatPumpConfig,
    HeatPumpControl,
    PVConfig,
    TankConfig,
)
from energy.site import AssetKind, Site
from energy.thermal import tank_capacity_kwh_per_k

__all__ = ["BatteryUnit", "EVChargerUnit", "HeatPumpUnit", "PVUnit", "Plant", "sg_ready_levels_kw"]


@dataclass(frozen=True)
class BatteryUnit:
    """A house battery (house_id set) or a community battery (house_id None)."""

    id: str
    house_id: str | None
    config: BatteryConfig

    @property
    def energy_min_kwh(self) -> float:
        return self.config.soc_min_frac * self.config.capacity_kwh

    @property
    def energy_max_kwh(self) -> float:
        return self.config.soc_max_frac * self.config.capacity_kwh


@dataclass(frozen=True)
class HeatPumpUnit:
    """A heat pump and the tank it charges; tank energy is counted above tank.temp_min_c."""

    id: str
    tank_id: str
    house_id: str
    config: HeatPumpConfig
    tank: TankConfig

    @property
    def capacity_kwh_per_k(self) -> float:
        return tank_capacity_kwh_per_k(self.tank.volume_l)

    @property
    def band_kwh(self) -> float:
        """Energy between the comfort bounds temp_min_c and temp_max_c."""
        return self.capacity_kwh_per_k * (self.tank.temp_max_c - self.tank.temp_min_c)

    @property
    def supply_kwh(self) -> float:
        """Tank energy (above temp_min_c) at which the tank reaches the supply temperature: above
        it the flow temperature follows the tank (negative if supply_temp_c < temp_min_c)."""
        return self.capacity_kwh_per_k * (self.config.supply_temp_c - self.tank.temp_min_c)

    @property
    def sg_ready(self) -> bool:
        return self.config.control == HeatPumpControl.SG_READY


@dataclass(frozen=True)
class PVUnit:
    id: str
    house_id: str
    config: PVConfig


@dataclass(frozen=True)
class EVChargerUnit:
    """An EV charger: a flexible load whose sessions need their energy by departure."""

    id: str
    config: EVChargerConfig


@dataclass(frozen=True)
class Plant:
    """Controllable assets of a site in stable site order."""

    houses: tuple[str, ...]
    batteries: tuple[BatteryUnit, ...]
    heat_pumps: tuple[HeatPumpUnit, ...]
    pvs: tuple[PVUnit, ...]
    ev_chargers: tuple[EVChargerUnit, ...] = ()

    @classmethod
    def from_site(cls, site: Site) -> Plant:
        batteries = []
        heat_pumps = []
        pvs = []
        chargers = []
        for asset in site.assets:
            if asset.kind == AssetKind.BATTERY:
                assert isinstance(asset.params, BatteryConfig)
                batteries.append(BatteryUnit(asset.id, asset.house_id, asset.params))
            elif asset.kind == AssetKind.PV:
                assert isinstance(asset.params, PVConfig)
                assert asset.house_id is not None
                pvs.append(PVUnit(asset.id, asset.house_id, asset.params))
            elif asset.kind == AssetKind.EV_CHARGER:
                assert isinstance(asset.params, EVChargerConfig)
                chargers.append(EVChargerUnit(asset.id, asset.params))
        for house in site.config.houses:
            if house.heat_pump is not None and house.tank is not None:
                heat_pumps.append(
                    HeatPumpUnit(
                        f"{house.id}.hp", f"{house.id}.tank", house.id, house.heat_pump, house.tank
                    )
                )
        return cls(
            houses=tuple(h.id for h in site.config.houses),
            batteries=tuple(batteries),
            heat_pumps=tuple(heat_pumps),
            pvs=tuple(pvs),
            ev_chargers=tuple(chargers),
        )

    @property
    def tank_houses(self) -> tuple[str, ...]:
        """Houses whose heat demand the optimizer needs (those with a heat pump and tank)."""
        return tuple(hp.house_id for hp in self.heat_pumps)


def sg_ready_levels_kw(config: HeatPumpConfig) -> dict[int, float]:
    """Electric power assumed for SG Ready states 2 (normal), 3 (boost) and 4 (forced on).

    The site configuration gives only the modulation range, so the levels are its lower end, its
    middle and its upper end. State 1 (lock) is 0 kW and is the heat pump being off.
    """
    lo, hi = config.electric_min_kw, config.electric_max_kw
    return {2: lo, 3: (lo + hi) / 2.0, 4: hi}
