"""The cost/autarky trade-off of the objective blend on the default site, in closed loop.

    .venv/bin/python bench/autarky_blend.py --from 2026-04-13 --days 3 --weight 0 --weight 1.0

For each grid-import weight w (EUR per kWh imported; 0 = the default cost objective, otherwise
objective kind blend with cost_weight 1 and grid_import_weight_per_kwh w) it runs the chosen
policy (default perfect-forecast: the platform's rolling MPC fed the realised future, so that
forecast error does not blur the objective's effect; no forecaster to train) over the period on
the simulated district and prints cost (metered and with the stored energy valued), grid import,
self-sufficiency, self-consumption, CO2, comfort and EV shortfall. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from energy.config import ObjectiveConfig
from energy.evaluation import EvaluationOptions, evaluate
from energy.site import Site, load_site


def _with_weight(site: Site, weight: float) -> Site:
    objective = (
        ObjectiveConfig()
        if weight == 0
        else ObjectiveConfig(kind="blend", cost_weight=1.0, grid_import_weight_per_kwh=weight)
    )
    return Site.from_config(site.config.model_copy(update={"objective": objective}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="2026-04-13")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--weight", type=float, action="append", dest="weights")
    parser.add_argument("--policy", default="perfect-forecast")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    weights = args.weights or [0.0, 0.1, 0.3, 1.0]
    start = pd.Timestamp(args.start, tz="UTC")
    end = start + pd.Timedelta(days=args.days)
    site = load_site()
    options = EvaluationOptions(seed=args.seed, bound=False)
    print(f"{args.policy}, {start.date()} .. {end.date()} (exclusive), seed {args.seed}")
    print(
        f"{'weight EUR/kWh':>14} {'cost EUR':>9} {'w/ stored':>9} {'import kWh':>10} "
        f"{'self-suff.':>10} {'self-cons.':>10} {'CO2 kg':>7} {'comfort Kh':>10} "
        f"{'EV short kWh':>12} {'wall s':>7}"
    )
    for weight in weights:
        began = time.perf_counter()
        report = evaluate(_with_weight(site, weight), start, end, [args.policy], options)
        run = report.summary["policies"][args.policy]
        f = run["figures"]
        print(
            f"{weight:>14g} {f['cost_eur']:>9.2f} {run['cost_with_stored_energy_eur']:>9.2f} "
            f"{f['grid_import_kwh']:>10.1f} {100 * f['self_sufficiency_frac']:>9.1f}% "
            f"{100 * f['self_consumption_frac']:>9.1f}% {f['co2_kg']:>7.1f} "
            f"{f['comfort_violation_kh']:>10.2f} {f['ev_short_kwh']:>12.2f} "
            f"{time.perf_counter() - began:>7.0f}"
        )


if __name__ == "__main__":
    main()
