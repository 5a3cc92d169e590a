"""Forecast targets of a site: what is forecast, for whom, and what it is made of.

Names: `<house>:load_kw`, `<house>:heat_demand_kw`, `<house>.pv:pv_kw` per house, and the district
aggregates `district:load_kw`, `district:heat_demand_kw`, `district:pv_kw` (the sums of the house
series). All are slot-average powers in kW, >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from energy.config import PVConfig
from energy.site import Site

__all__ = ["DISTRICT", "Target", "TargetKind", "site_targets", "target_frame"]

DISTRICT = "district"


class TargetKind(StrEnum):
    LOAD = "load"
    HEAT = "heat"
    PV = "pv"

    @property
    def quantity(self) -> str:
        """The measured quantity of a target of this kind (`<asset>:<quantity>`)."""
        return _QUANTITY[self]


_QUANTITY = {TargetKind.LOAD: "load_kw", TargetKind.HEAT: "heat_demand_kw", TargetKind.PV: "pv_kw"}


@dataclass(frozen=True)
class Target:
    """One forecast target.

    components: the measured series it is the sum of (itself for a house target);
    annual_kwh: configured annual energy (electricity, or space heat + hot water), used to scale
    the BDEW baselines; pv_systems: the PV plants behind a PV target (for the physical features).
    """

    name: str
    kind: TargetKind
    house_id: str | None
    components: tuple[str, ...]
    annual_kwh: float | None = None
    pv_systems: tuple[PVConfig, ...] = ()

    @property
    def quantity(self) -> str:
        return self.kind.quantity


def site_targets(site: Site) -> list[Target]:
    """All targets of a site: per house load, heat and PV, then the three district aggregates."""
    houses: list[Target] = []
    for house in site.houses:
        load = f"{house.id}:load_kw"
        heat = f"{house.id}:heat_demand_kw"
        houses.append(
            Target(load, TargetKind.LOAD, house.id, (load,), house.annual_electricity_kwh)
        )
        houses.append(
            Target(
                heat,
                TargetKind.HEAT,
                house.id,
                (heat,),
                house.annual_space_heat_kwh + house.annual_hot_water_kwh,
            )
        )
        if house.pv is not None:
            pv = f"{house.id}.pv:pv_kw"
            houses.append(Target(pv, TargetKind.PV, house.id, (pv,), None, (house.pv,)))
    district = []
    for kind in TargetKind:
        members = [t for t in houses if t.kind == kind]
        if not members:
            continue
        annual = None if kind == TargetKind.PV else sum(t.annual_kwh or 0.0 for t in members)
        district.append(
            Target(
                f"{DISTRICT}:{kind.quantity}",
                kind,
                None,
                tuple(c for t in members for c in t.components),
                annual,
                tuple(p for t in members for p in t.pv_systems),
            )
        )
    return houses + district


def target_frame(data: pd.DataFrame, targets: list[Target]) -> pd.DataFrame:
    """Actual values of each target from a frame of measured series (district = sum of houses).

    A district slot is NaN when any of its members is missing: a partial sum is not the district.
    """
    arrays: dict[str, np.ndarray] = {}
    columns = {}
    for target in targets:
        missing = [c for c in target.components if c not in data.columns]
        if missing:
            raise KeyError(
                f"target {target.name!r} needs columns {missing}; the data has "
                f"{sorted(data.columns)[:12]}..."
            )
        parts = []
        for component in target.components:
            if component not in arrays:
                arrays[component] = data[component].to_numpy(dtype=float)
            parts.append(arrays[component])
        # np.sum propagates NaN: any missing member makes the slot missing
        columns[target.name] = parts[0] if len(parts) == 1 else np.sum(parts, axis=0)
    return pd.DataFrame(columns, index=data.index)
