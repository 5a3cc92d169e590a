"""SimulationClock: wall time drives simulated time at a chosen speed."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from energy.physics.clock import SimulationClock
from energy.physics.district import DistrictSimulator


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_sync_follows_the_wall_clock_at_speed(site, flat_profiles):
    profiles = flat_profiles(site, "2026-05-01", 2)
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    wall = FakeMonotonic()
    clock = SimulationClock(sim, speed=60.0, monotonic=wall)
    wall.now_s += 10.0
    assert clock.sync() == profiles.index[0] + pd.Timedelta(minutes=10)
    wall.now_s += 0.5
    assert clock.sync() == profiles.index[0] + pd.Timedelta(minutes=10, seconds=30)
    assert clock.sync() == sim.now  # nothing to catch up


def test_run_stops_on_request(site, flat_profiles):
    profiles = flat_profiles(site, "2026-05-01", 2)
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    stop = threading.Event()
    clock = SimulationClock(sim, speed=600.0)
    thread = threading.Thread(target=clock.run, args=(stop, 0.01))
    thread.start()
    sim.set_battery_power("house-01.battery", 1.0)  # commands interleave with the clock
    stop.wait(0.2)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert sim.now > profiles.index[0]


def test_rejects_non_positive_speed(site, flat_profiles):
    profiles = flat_profiles(site, "2026-05-01", 1)
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    with pytest.raises(ValueError, match="positive"):
        SimulationClock(sim, speed=0)
