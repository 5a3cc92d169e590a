"""Write docs/examples/: INPUTS.csv of three days of the default site and a STATE.json.

The inputs are what the platform's own planning cycle builds with perfect foresight
(energy.control.planning.PlanningCycle without a forecaster) from the simulated district's
profiles (energy.physics.profiles, seed 0) and the site's tariff: a winter day, a summer day and
the spring-forward day of 2026 (92 quarter hours), each a local calendar day in Europe/Berlin.
The state is a plausible morning: batteries part-charged, tanks inside their comfort band.

    .venv/bin/python scripts/make_optimize_examples.py [--out docs/examples]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pandas as pd

from energy.control.planning import PlanningCycle
from energy.physics.profiles import district_profiles
from energy.site import Site, load_site
from optimizer import DispatchOptimizer, OptimizerOptions
from optimizer.plant import Plant

DAYS = {
    "winter": dt.date(2026, 1, 15),
    "summer": dt.date(2026, 7, 15),
    "dst-spring-forward": dt.date(2026, 3, 29),
}


def day_inputs(site: Site, day: dt.date) -> pd.DataFrame:
    """INPUTS.csv rows of one local day: slot start with its local UTC offset."""
    start = pd.Timestamp(day, tz=site.tz).tz_convert("UTC")
    end = pd.Timestamp(day + dt.timedelta(days=1), tz=site.tz).tz_convert("UTC")
    slots = int((end - start) / pd.Timedelta(minutes=15))
    realised = district_profiles(site, start, end, seed=0)
    optimizer = DispatchOptimizer(site, options=OptimizerOptions(horizon_slots=slots))
    inputs = PlanningCycle(site, optimizer, forecaster=None).inputs(start, realised, realised)
    frame = inputs.to_frame().round(4)
    frame.index = [t.tz_convert(site.tz).isoformat() for t in frame.index]
    frame.index.name = "timestamp"
    return frame


def morning_state(site: Site) -> dict[str, dict[str, float | bool]]:
    plant = Plant.from_site(site)
    state: dict[str, dict[str, float | bool]] = {}
    for number, battery in enumerate(plant.batteries):
        state[battery.id] = {"soc_frac": round(0.3 + 0.05 * (number % 5), 2)}
    for pump in plant.heat_pumps:
        tank = pump.tank
        state[pump.tank_id] = {"tank_temp_c": round(tank.temp_min_c + 5.0, 1)}
        state[pump.id] = {"on": False, "minutes_in_state": 30}
    state["grid"] = {"peak_import_kw": 0.0}
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/examples"))
    args = parser.parse_args()
    site = load_site(None)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, day in DAYS.items():
        path = args.out / f"INPUTS-{name}-{day.isoformat()}.csv"
        frame = day_inputs(site, day)
        frame.to_csv(path)
        print(f"wrote {path} ({len(frame)} slots)")
    state = args.out / "STATE.json"
    state.write_text(json.dumps(morning_state(site), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {state}")


if __name__ == "__main__":
    main()
