"""The heat pumps' local anti-legionella program runs over any command and is counted."""

from __future__ import annotations

import pandas as pd

from energy.physics.district import DistrictSimulator


def test_the_program_heats_a_locked_tank_to_60_degc_for_an_hour(site, flat_profiles):
    # Sunday 4 October 2026, 13:00 CEST = 11:00 UTC; every SG Ready unit locked, every
    # continuous unit told to stay off, for the whole day
    profiles = flat_profiles(site, "2026-10-04T06:00", 12, {":heat_demand_kw": 1.0})
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    temps = {tank: [] for tank in sim.snapshot().tanks}
    for hp in site.config.houses:
        if hp.heat_pump.control == "sg_ready":
            sim.set_sg_ready(f"{hp.id}.hp", 1, timeout_s=1e6)
        else:
            sim.set_heat_pump_power(f"{hp.id}.hp", 0.0, timeout_s=1e6)
    for _ in range(12 * 60):
        sim.advance(60)
        for tank, reading in sim.snapshot().tanks.items():
            temps[tank].append(reading.temp_c)
    snapshot = sim.snapshot()
    index = pd.date_range(profiles.index[0], periods=12 * 60, freq="1min") + pd.Timedelta("1min")
    for tank, reading in snapshot.tanks.items():
        assert (reading.legionella_completed, reading.legionella_missed) == (1, 0), tank
        series = pd.Series(temps[tank], index=index)
        assert series.loc[:"2026-10-04T10:59Z"].max() < 58.0, "not before the program starts"
        held = series.loc["2026-10-04T11:00Z":] >= 58.0
        assert held.sum() >= 60, f"{tank}: held for {held.sum()} min"
        assert series.max() <= 60.0 + 1e-9
        assert abs(reading.balance_error_kwh) < 1e-9


def test_a_disabled_program_never_runs(make_site, flat_profiles):
    def no_program(data):
        for house in data["houses"]:
            house["tank"]["legionella"] = {"enabled": False}

    site = make_site(no_program)
    profiles = flat_profiles(site, "2026-10-04T06:00", 12, {":heat_demand_kw": 1.0})
    sim = DistrictSimulator(site, profiles.index[0], profiles=profiles)
    sim.advance(12 * 3600)
    for tank, reading in sim.snapshot().tanks.items():
        assert (reading.legionella_completed, reading.legionella_missed) == (0, 0), tank
        assert reading.temp_c < 55.0
