"""Which batteries take a grid target: read from their register maps."""

from __future__ import annotations

from connectors.registermap import load_register_map
from energy.control.capabilities import grid_target_batteries
from energy.site import AssetKind, Site


def test_home_batteries_behind_a_map_with_a_grid_target_point(site: Site) -> None:
    found = grid_target_batteries(site)
    maps = {
        a.id: a.device.register_map for a in site.of_kind(AssetKind.BATTERY) if a.device is not None
    }
    # the project's generic maps offer the mode; the SunSpec and SMA storage maps do not
    assert found == {
        a for a, m in maps.items() if m in ("battery_generic.yaml", "flow_battery_generic.yaml")
    }
    assert "house-04.battery" not in found  # SunSpec storage
    assert "house-07.battery" not in found  # SMA
    assert len(found) == 5


def test_a_community_battery_never_takes_a_grid_target(community_site: Site) -> None:
    community = {b.id for b in community_site.config.community_batteries}
    assert community
    assert not community & grid_target_batteries(community_site)


def test_maps_handed_in_are_the_ones_read(site: Site) -> None:
    """The dispatcher hands over the maps it loaded: a battery's capability is read from the
    map given for it, not from its file again."""
    found = grid_target_batteries(site)
    battery = sorted(found)[0]
    sma = next(a for a in site.of_kind(AssetKind.BATTERY) if a.id == "house-07.battery")
    assert sma.device is not None
    without_point = load_register_map(sma.device.register_map, sma.id)
    assert grid_target_batteries(site, {battery: without_point}) == found - {battery}
