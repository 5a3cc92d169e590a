"""Simulator benchmark: profile generation and a simulated year of the district in local mode.

    .venv/bin/python bench/sim_year.py [--year 2026] [--step-s 60] [--seed 0] [--config PATH]
                                       [--days 365] [--replicate N]

--replicate N builds a larger district from the site's houses, repeated N times (devices stripped),
to show how the step cost grows with the number of houses.

Prints wall and CPU times and the year's energy figures (a plausibility check of the physics);
asserts nothing. Profile generation is timed cold (first call in the process) and warm (cached).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from energy.config import SiteConfig, load_site_config
from energy.physics.district import GRID_METER_ID, DistrictSimulator
from energy.physics.profiles import district_profiles
from energy.site import Site


def _replicated(config: SiteConfig, copies: int) -> SiteConfig:
    """The site's houses repeated `copies` times, without Modbus devices (addresses would clash)."""
    data = config.model_dump(mode="json")
    data["grid"]["meter"] = None
    for battery in data["community_batteries"]:
        battery["device"] = None
    houses = []
    for copy in range(copies):
        for house in config.model_dump(mode="json")["houses"]:
            house["id"] = f"{house['id']}-{copy:03d}"
            house["meter"] = None
            for part in ("pv", "heat_pump", "battery"):
                if house.get(part):
                    house[part]["device"] = None
            houses.append(house)
    data["houses"] = houses
    return SiteConfig.model_validate(data)


def _timed(label: str, action):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    print(f"{label:<44} wall {time.perf_counter() - wall:7.2f} s   "
          f"cpu {time.process_time() - cpu:7.2f} s")  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--step-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--config", default=None, help="site config (default: Klimaviertel)")
    parser.add_argument("--replicate", type=int, default=1, help="repeat the houses N times")
    args = parser.parse_args()

    config = load_site_config(args.config)
    site = Site.from_config(config if args.replicate == 1 else _replicated(config, args.replicate))
    start = pd.Timestamp(year=args.year, month=1, day=1, tz="UTC")
    end = start + pd.Timedelta(days=args.days)
    houses = len(site.config.houses)
    print(f"site {site.id}: {houses} houses, {len(site.batteries())} batteries; "
          f"{start.date()} + {args.days} d, step {args.step_s:g} s, seed {args.seed}")  # fmt: skip

    profiles = _timed("profiles (cold: weather, H25, pvlib)",
                      lambda: district_profiles(site, start, end, args.seed))  # fmt: skip
    _timed("profiles (warm: cached)", lambda: district_profiles(site, start, end, args.seed))
    sim = _timed("simulator construction", lambda: DistrictSimulator(site, start, args.seed,
                                                                     args.step_s))  # fmt: skip
    steps = int((end - start).total_seconds() / args.step_s)
    _timed(f"simulate, local mode ({steps} steps)", lambda: sim.advance_to(end))
    snap = sim.snapshot()

    grid = snap.meters[GRID_METER_ID]
    load = sum(h.load_kwh for h in snap.houses.values())
    pv = sum(p.energy_kwh for p in snap.pv.values())
    hp_el = sum(h.electric_kwh for h in snap.heat_pumps.values())
    hp_heat = sum(h.heat_kwh for h in snap.heat_pumps.values())
    demand = sum(h.heat_demand_kwh for h in snap.houses.values())
    batteries = snap.batteries.values()
    throughput = sum(b.discharged_kwh for b in batteries)
    losses = sum(b.losses_kwh for b in batteries)
    consumption = load + hp_el
    print(f"household load {load:10.0f} kWh   heat pumps {hp_el:8.0f} kWh el -> {hp_heat:8.0f} kWh "
          f"heat (SCOP {hp_heat / hp_el:4.2f}); heat demand {demand:8.0f} kWh")  # fmt: skip
    print(f"PV (AC)        {pv:10.0f} kWh   grid import {grid.import_kwh:8.0f} kWh   "
          f"export {grid.export_kwh:8.0f} kWh")  # fmt: skip
    print(f"self-consumption {(pv - grid.export_kwh) / pv:6.1%} of PV; self-sufficiency "
          f"{1 - grid.import_kwh / consumption:6.1%} of consumption")  # fmt: skip
    print(f"batteries: {throughput:8.0f} kWh discharged, {losses:7.0f} kWh losses; comfort "
          f"violation {snap.comfort_violation_kh:8.2f} K h; unserved heat "
          f"{sum(t.unserved_heat_kwh for t in snap.tanks.values()):6.2f} kWh; heat pump starts "
          f"{sum(h.starts for h in snap.heat_pumps.values())}")  # fmt: skip
    print(f"profile frame {profiles.shape[0]} slots x {profiles.shape[1]} columns")


if __name__ == "__main__":
    main()
