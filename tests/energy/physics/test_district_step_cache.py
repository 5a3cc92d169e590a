"""DistrictSimulator's per-segment step inputs and its snapshot read-out change nothing.

A step takes the slot's inputs and what the live commands make of them from a `_Segment` that is
rebuilt only when a command changes, a watchdog expires or the slot ends. Rebuilding it before
every step must give exactly the same district; commands that change between two steps of a slot
(a PV limit released, a dimming cap set) must apply from the next step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.physics.district import DistrictSimulator
from energy.physics.profiles import district_profiles
from energy.physics.readings import ControlMode

START = pd.Timestamp("2026-04-20", tz="UTC")


def _drive(sim: DistrictSimulator, seed: int) -> list[object]:
    """Random commands of every kind, some with watchdogs that expire within a slot."""
    rng = np.random.default_rng(seed)
    batteries = [*sim.home_batteries.ids, *sim.community_batteries.ids]
    continuous = [
        a for a, sg in zip(sim.heat_pumps.ids, sim.heat_pumps.sg_ready, strict=True) if not sg
    ]
    sg_ready = [a for a, sg in zip(sim.heat_pumps.ids, sim.heat_pumps.sg_ready, strict=True) if sg]
    pvs = list(sim.snapshot().pv)
    snapshots: list[object] = []
    for quarter in range(2 * 96):
        timeout = 1800.0 if rng.random() < 0.6 else float(rng.uniform(60, 840))
        for battery in batteries:
            r = rng.random()
            if r < 0.4:
                sim.set_battery_power(battery, float(rng.uniform(-8, 8)), timeout)
            elif r < 0.6:
                sim.release(battery)
            elif r < 0.7:
                sim.heartbeat(battery)
        for hp in continuous:
            if rng.random() < 0.5:
                sim.set_heat_pump_power(hp, float(rng.uniform(0, 3)), timeout)
            else:
                sim.release(hp)
        for hp in sg_ready:
            sim.set_sg_ready(hp, int(rng.integers(1, 5)), timeout)
        for pv in pvs:
            if rng.random() < 0.3:
                sim.set_pv_limit(pv, float(rng.uniform(0, 4)), timeout)
            elif rng.random() < 0.3:
                sim.set_pv_limit(pv, None)
        if 40 <= quarter % 96 < 44:  # an hour in local mode only
            for asset in [*batteries, *continuous, *sg_ready, *pvs]:
                sim.release(asset)
        sim.advance(420)
        if quarter % 7 == 0:  # a dimming cap set or lifted in the middle of a slot
            sim.set_dimming_cap(sim.heat_pumps.ids[0], 1.0 if quarter % 14 == 0 else None)
        sim.advance(480)
        snapshots.append(sim.snapshot())
    return snapshots


def test_segments_rebuilt_before_every_step_give_the_same_district(site):
    profiles = district_profiles(site, START, START + pd.Timedelta(days=2), 0)
    cached = DistrictSimulator(site, START, profiles=profiles)
    fresh = DistrictSimulator(site, START, profiles=profiles)
    step = fresh._step

    def step_without_cache(dt_us: int) -> None:
        fresh._segment = None
        step(dt_us)

    fresh._step = step_without_cache  # type: ignore[method-assign]
    assert _drive(cached, 5) == _drive(fresh, 5)


def test_a_pv_limit_released_within_a_slot_ends_at_the_next_step(site, flat_profiles):
    profiles = flat_profiles(site, "2026-06-01", 1, {":pv_kw": 5.0})
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    sim.set_pv_limit("house-01.pv", 1.0, timeout_s=3600)
    sim.advance(60)
    assert sim.snapshot().pv["house-01.pv"].power_kw == 1.0
    sim.set_pv_limit("house-01.pv", None)
    sim.advance(60)
    pv = sim.snapshot().pv["house-01.pv"]
    assert (pv.power_kw, pv.mode, pv.limit_kw) == (5.0, ControlMode.LOCAL, None)


def test_a_dimming_cap_set_within_a_slot_applies_at_the_next_step(site, flat_profiles):
    profiles = flat_profiles(site, "2026-01-05", 1, {"house-01:heat_demand_kw": 7.0})
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    sim.set_heat_pump_power("house-01.hp", 2.6, timeout_s=3600)
    sim.advance(60)
    assert sim.snapshot().heat_pumps["house-01.hp"].electric_power_kw > 1.5
    sim.set_dimming_cap("house-01.hp", 1.5)
    sim.advance(60)
    assert sim.snapshot().heat_pumps["house-01.hp"].electric_power_kw == pytest.approx(1.5)


def test_snapshot_holds_the_banks_values_as_python_numbers(community_site):
    sim = DistrictSimulator(community_site, START, seed=2)
    sim.set_battery_power("quartier-flow", -5.0, timeout_s=1800)
    sim.set_ev_charge_limit("carport-ev", 3.5, timeout_s=1800)
    sim.set_sg_ready("house-02.hp", 4, timeout_s=1800)
    sim.advance(900)
    snap = sim.snapshot()
    for i, asset in enumerate(sim.community_batteries.ids):
        reading = snap.batteries[asset]
        assert reading.energy_kwh == float(sim.community_batteries.energy_kwh[i])
        assert reading.soc_frac == float(sim.community_batteries.soc_frac[i])
        assert type(reading.energy_kwh) is float
    assert snap.batteries["quartier-flow"].setpoint_kw == -5.0
    for i, asset in enumerate(sim.heat_pumps.ids):
        reading = snap.heat_pumps[asset]
        assert reading.tank_temp_c == float(sim.tanks.temp_c[i])
        assert reading.electric_kwh == float(sim.heat_pumps.electric_kwh[i])
        assert type(reading.on) is bool
        assert type(reading.starts) is int
    assert snap.heat_pumps["house-02.hp"].sg_ready_state == 4
    charger = snap.ev_chargers["carport-ev"]
    assert charger.setpoint_kw == 3.5
    assert charger.energy_kwh == float(sim.ev_chargers.energy_kwh[0])
    assert type(charger.plugged) is bool
    assert type(charger.vehicle_state) is int
    for i, tank in enumerate(sim.tanks.ids):
        assert snap.tanks[tank].stored_kwh == float(sim.tanks.stored_kwh[i])
