"""What a better forecast is worth to the MPC: closed-loop runs with realised values instead of
some forecasts.

    nice .venv/bin/python bench/forecast_value.py --from 2026-10-01 --days 31 \\
        --oracle none --oracle pv --oracle heat --oracle load --oracle load:16 \\
        --oracle load,heat,pv:4 --oracle load,heat,pv:1 [--nowcast]

Each --oracle is KINDS[:SLOTS]: the target kinds (load, heat, pv) that get their realised
values, in the first SLOTS slots of every plan (whole horizon without); "none" is the forecast as
issued. The nowcast is off unless --nowcast (it would correct the realised values too). Prints,
per run, the period's cost, the battery and tank energy at the end against the start, and the
cost with that energy valued as the evaluation report does (`stored_energy_value_eur`), then rule
and perfect-forecast over the same period for reference. Asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd

from energy.evaluation import EvaluationOptions, run_policy
from energy.evaluation.forecasts import ForecastOracle
from energy.evaluation.metrics import slot_frame
from energy.site import load_site
from forecasting.config import ForecastConfig, NowcastConfig


def parse_oracle(text: str) -> ForecastOracle | None:
    if text == "none":
        return None
    kinds, _, slots = text.partition(":")
    return ForecastOracle(tuple(kinds.split(",")), int(slots) if slots else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="2026-10-01")
    parser.add_argument("--days", type=float, default=31.0)
    parser.add_argument("--oracle", action="append", default=None)
    parser.add_argument("--nowcast", action="store_true")
    parser.add_argument(
        "--no-references", action="store_true", help="skip rule and perfect-forecast"
    )
    parser.add_argument("--config", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    site = load_site(args.config)
    start = pd.Timestamp(args.start, tz="UTC")
    end = start + pd.Timedelta(days=args.days)
    forecast = ForecastConfig(quantiles=[0.5], nowcast=NowcastConfig(enabled=args.nowcast))
    runs: list[tuple[str, str, ForecastOracle | None]] = [
        ("mpc", text, parse_oracle(text)) for text in args.oracle or ["none"]
    ]
    if not args.no_references:
        runs += [("rule", "-", None), ("perfect-forecast", "-", None)]
    print(
        f"{site.id}: {start.date()} + {args.days:g} days, nowcast "
        f"{'on' if args.nowcast else 'off'}; energy at the end valued by what it saves "
        "over the two days after the period (energy.evaluation.valuation)"
    )
    print(
        f"{'policy':<8}{'oracle':<18}{'cost EUR':>10}{'batteries kWh':>15}{'tanks kWh':>11}"
        f"{'valued EUR':>12}{'cpu s':>8}"
    )
    for policy, label, oracle in runs:
        cpu = time.process_time()
        options = EvaluationOptions(forecast_config=forecast, oracle=oracle)
        run = run_policy(site, policy, start, end, options)
        slots = slot_frame(site.config, run)
        cost = float((slots["import_cost_eur"] - slots["export_revenue_eur"]).sum())
        stored = run.stored_energy_change_kwh
        valued = cost - run.stored_energy_value_eur
        print(
            f"{policy:<8}{label:<18}{cost:10.2f}{stored['batteries']:15.1f}"
            f"{stored['tanks']:11.1f}{valued:12.2f}{time.process_time() - cpu:8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
