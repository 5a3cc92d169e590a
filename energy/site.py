"""The district as domain objects: a Site with its assets, built from a validated SiteConfig.

Asset ids are derived from the configuration: a house's parts are `<house>.pv`, `<house>.hp`,
`<house>.tank`, `<house>.battery` and `<house>.meter`; the grid connection meter is `grid.meter`;
community batteries and EV chargers keep their configured id. The house itself (`<house>`) is the asset that carries
household electric load and heat demand.

Sign convention used across the platform: power into the district from the grid is positive, and
power into a battery (charging) is positive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from energy.config import (
    BatteryConfig,
    DeviceEndpoint,
    HeatPumpConfig,
    HouseConfig,
    PVConfig,
    SiteConfig,
    TankConfig,
    load_site_config,
)

__all__ = ["CONTROLLABLE_KINDS", "Asset", "AssetKind", "Site", "load_site"]


class AssetKind(StrEnum):
    HOUSE = "house"
    PV = "pv"
    HEAT_PUMP = "heat_pump"
    TANK = "tank"
    BATTERY = "battery"
    METER = "meter"
    GRID_METER = "grid_meter"
    #: a controllable load: charging power set by the platform within a car's session
    EV_CHARGER = "ev_charger"


CONTROLLABLE_KINDS = (
    AssetKind.BATTERY,
    AssetKind.HEAT_PUMP,
    AssetKind.PV,
    AssetKind.EV_CHARGER,
)
"""Assets the platform writes setpoints to (and an operator may override or set to manual)."""


@dataclass(frozen=True)
class Asset:
    """One controllable or measured thing in the district."""

    id: str
    kind: AssetKind
    house_id: str | None
    params: BaseModel | None = field(repr=False)
    device: DeviceEndpoint | None = field(default=None, repr=False)

    def params_dict(self) -> dict[str, Any]:
        if self.params is None:
            return {}
        return self.params.model_dump(mode="json", exclude={"device"})


@dataclass(frozen=True)
class Site:
    """A district: its configuration and its assets in a stable order."""

    config: SiteConfig
    assets: tuple[Asset, ...]

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    @property
    def houses(self) -> list[HouseConfig]:
        return list(self.config.houses)

    def asset(self, asset_id: str) -> Asset:
        for asset in self.assets:
            if asset.id == asset_id:
                return asset
        known = ", ".join(a.id for a in self.assets)
        raise KeyError(f"site {self.id!r} has no asset {asset_id!r}; known: {known}")

    def of_kind(self, kind: AssetKind) -> list[Asset]:
        return [a for a in self.assets if a.kind == kind]

    def batteries(self) -> list[Asset]:
        return self.of_kind(AssetKind.BATTERY)

    def ev_chargers(self) -> list[Asset]:
        return self.of_kind(AssetKind.EV_CHARGER)

    def devices(self) -> Iterator[Asset]:
        """Assets reached over Modbus, in site order."""
        return (a for a in self.assets if a.device is not None)

    @classmethod
    def from_config(cls, config: SiteConfig) -> Site:
        assets: list[Asset] = []
        if config.grid.meter is not None:
            assets.append(
                Asset("grid.meter", AssetKind.GRID_METER, None, config.grid, config.grid.meter)
            )
        for house in config.houses:
            assets.append(Asset(house.id, AssetKind.HOUSE, house.id, house))
            if house.meter is not None:
                assets.append(
                    Asset(f"{house.id}.meter", AssetKind.METER, house.id, None, house.meter)
                )
            parts: list[
                tuple[str, AssetKind, PVConfig | HeatPumpConfig | TankConfig | BatteryConfig | None]
            ] = [
                ("pv", AssetKind.PV, house.pv),
                ("hp", AssetKind.HEAT_PUMP, house.heat_pump),
                ("tank", AssetKind.TANK, house.tank),
                ("battery", AssetKind.BATTERY, house.battery),
            ]
            for suffix, kind, part in parts:
                if part is not None:
                    assets.append(
                        Asset(
                            f"{house.id}.{suffix}",
                            kind,
                            house.id,
                            part,
                            getattr(part, "device", None),
                        )
                    )
        for battery in config.community_batteries:
            assets.append(Asset(battery.id, AssetKind.BATTERY, None, battery, battery.device))
        for charger in config.ev_chargers:
            assets.append(Asset(charger.id, AssetKind.EV_CHARGER, None, charger, charger.device))
        return cls(config=config, assets=tuple(assets))


def load_site(path: str | Path | None = None) -> Site:
    """Load, validate and build the site (the default Klimaviertel when path is None)."""
    return Site.from_config(load_site_config(path))
