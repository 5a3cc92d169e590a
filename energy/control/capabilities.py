"""Which control modes a site's devices offer, read from their register maps.

A home battery whose map has a writable `grid_target_kw` point can hold its house's exchange with
the grid at a target (grid-target mode, `energy.control.commands`); every other battery takes
only a power setpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.registermap import RegisterMap, load_register_map
from energy.site import AssetKind, Site

__all__ = ["GRID_TARGET_QUANTITY", "grid_target_batteries"]

GRID_TARGET_QUANTITY = "grid_target_kw"


def grid_target_batteries(
    site: Site, maps: Mapping[str, RegisterMap] | None = None
) -> frozenset[str]:
    """The ids of the home batteries whose devices accept a grid target. maps: register maps
    already loaded, by asset id (the others are loaded here)."""
    found = set()
    for asset in site.of_kind(AssetKind.BATTERY):
        if asset.device is None or asset.house_id is None:
            continue
        register_map = (maps or {}).get(asset.id) or load_register_map(
            asset.device.register_map, asset.id
        )
        if any(p.quantity == GRID_TARGET_QUANTITY and p.writable for p in register_map.points):
            found.add(asset.id)
    return frozenset(found)
