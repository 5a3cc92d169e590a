"""District aggregates of a window of readings, and the stored slot rows the KPIs sum."""

from __future__ import annotations

import datetime as dt

import pytest

from energy.datahub.district import district_values, store_district_slot
from energy.site import Site
from energy.store import Store
from energy.store.measurements import read_series
from tests.energy.datahub.conftest import NOW, readings


def test_district_aggregates_of_a_window(hub_site: Site) -> None:
    start = NOW
    end = NOW + dt.timedelta(minutes=15)
    values = district_values(hub_site, readings(hub_site, start, 15), start, end)
    assert values is not None
    batteries = sum(h.battery is not None for h in hub_site.houses) + len(
        hub_site.config.community_batteries
    )
    pv = 2.0 * sum(h.pv is not None for h in hub_site.houses)
    assert values["grid_power_kw"] == pytest.approx(10.0)
    assert values["pv_power_kw"] == pytest.approx(pv)
    assert values["consumption_power_kw"] == pytest.approx(10.0 + pv - 0.5 * batteries)
    assert values["grid_import_kwh"] == pytest.approx(2.5)
    assert values["self_sufficiency_frac"] == pytest.approx(
        1 - 10.0 / (10.0 + pv - 0.5 * batteries)
    )
    assert values["storage_soc_frac"] == pytest.approx(0.5)
    assert values["co2_kg"] >= 0.0


def test_no_district_values_without_the_grid_meter(hub_site: Site) -> None:
    frame = readings(hub_site, NOW, 15)
    frame = frame[frame["asset_id"] != "grid.meter"]
    assert district_values(hub_site, frame, NOW, NOW + dt.timedelta(minutes=15)) is None


def test_finished_slots_are_stored_once(hub_store: Store, hub_site: Site) -> None:
    slot = NOW - dt.timedelta(minutes=15)
    assert store_district_slot(hub_store, hub_site, slot) > 0
    store_district_slot(hub_store, hub_site, slot)  # again: the stored rows are kept
    stored = read_series(hub_store, hub_site.id, "district", "grid_import_kwh", slot, NOW)
    assert stored["value"].tolist() == pytest.approx([2.5])
