"""The house-level series derived from polled device values match the district's physics."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from test_end_to_end import SteppedDistrict
from test_faults import POLICY, timing

from energy.control.clock import ManualClock
from energy.control.derived import derive_slot
from energy.control.history import WEATHER_ASSET, store_history
from energy.control.runtime import ControlRuntime
from energy.control.timing import with_device_watchdogs
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import read_series
from energy.store.sites import sync_site

pytestmark = pytest.mark.slow

SLOT_START = dt.datetime(2026, 1, 15, 11, 0, tzinfo=dt.UTC)  # winter: heat demand, some PV


def test_derived_load_heat_and_pv_follow_the_physics(sqlite_store: Store, site: Site) -> None:
    store = sqlite_store
    energy: dict[str, tuple[float, float]] = {}

    async def scenario() -> None:
        clock = ManualClock(SLOT_START - dt.timedelta(minutes=2))
        sited = with_device_watchdogs(site, lambda _: 600.0)
        district = SteppedDistrict(sited, clock, free_ports=True, refresh_s=0.05)
        await district.start()
        try:
            sync_site(store, district.site)
            rt = ControlRuntime(
                district.site,
                store,
                clock=clock,
                timing=timing(stale_after_s=600.0, lease_ttl_s=3600.0),
                instance="derive",
                poller_policy=POLICY,
            )
            await rt.lease_job()
            clock.set(SLOT_START)
            district.tick()
            before = district.physics.snapshot().houses
            for minute in range(15):  # devices in local mode, polled every minute of the slot
                clock.set(SLOT_START + dt.timedelta(minutes=minute, seconds=30))
                district.tick()
                await rt.poll_job()
            clock.set(SLOT_START + dt.timedelta(minutes=15))
            district.tick()
            after = district.physics.snapshot().houses
            for house_id, reading in after.items():
                energy[house_id] = (
                    (reading.load_kwh - before[house_id].load_kwh) / 0.25,
                    (reading.heat_demand_kwh - before[house_id].heat_demand_kwh) / 0.25,
                )
            clock.set(SLOT_START + dt.timedelta(minutes=16))
            outcome = await rt.derive_job()
            assert outcome.outcome == "ok", outcome.detail
            await rt.poller.close()
        finally:
            await district.stop()

    asyncio.run(scenario())
    derived = derive_slot(store, site, SLOT_START)
    values = {
        (a, q): v
        for a, q, v in zip(derived["asset_id"], derived["quantity"], derived["value"], strict=True)
    }
    for house_id, (load_kw, heat_kw) in energy.items():
        assert values[(house_id, "load_kw")] == pytest.approx(load_kw, rel=0.02, abs=0.02)
        assert values[(house_id, "heat_demand_kw")] == pytest.approx(heat_kw, rel=0.2, abs=0.3)
    assert (WEATHER_ASSET, "temp_outdoor_c") in values
    # the derive job stored them in the convention the retrain job reads
    history = store_history(store, site, SLOT_START, SLOT_START + dt.timedelta(minutes=15))
    assert history.notna().all(axis=None)
    stored = read_series(store, site.id, "house-01", "load_kw", SLOT_START, SLOT_START)
    assert set(stored["quality"]) <= {int(Quality.GOOD)}
