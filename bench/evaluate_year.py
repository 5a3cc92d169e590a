"""Closed-loop year benchmark: how long a simulated year of a policy takes, and what it saves.

    nice .venv/bin/python bench/evaluate_year.py [--policy rule --policy mpc --policy perfect]
        [--from 2026-01-01] [--days 365] [--horizon-slots 96] [--forecast-every 24]
        [--seed 0] [--out DIR] [--config PATH]

Runs `energy.evaluation.evaluate` (the code behind `kv evaluate`) and prints, per policy, wall and
CPU time split into set-up (profiles, optimizer build, forecaster training), planning and
dispatch, forecast issues and physics, the time per slot, and the time a full year would take at
that rate (when --days is shorter than a year); then the period's figures side by side and the
saving against rule-tuned and the share of the oracle's saving that mpc captures, with plan
tracking per device kind. Asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pandas as pd

from energy.evaluation import EvaluationOptions, Policy, evaluate, write_report
from energy.evaluation.metrics import FIGURES
from energy.site import load_site
from forecasting.config import ForecastConfig

SLOTS_PER_YEAR = 365 * 96


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", action="append", choices=[p.value for p in Policy])
    parser.add_argument("--from", dest="start", default="2026-01-01")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--horizon-slots", type=int, default=EvaluationOptions.horizon_slots)
    parser.add_argument(
        "--forecast-every", type=int, default=EvaluationOptions.forecast_every_slots
    )
    parser.add_argument("--forecast-horizon-h", type=float, default=None)
    parser.add_argument("--training-days", type=int, default=EvaluationOptions.training_days)
    parser.add_argument("--step-s", type=float, default=EvaluationOptions.step_s)
    parser.add_argument(
        "--seed", type=int, default=EvaluationOptions.seed, help="seed of the simulated world"
    )
    parser.add_argument("--no-bound", action="store_true", help="skip the relaxation's lower bound")
    parser.add_argument(
        "--no-balancing",
        action="store_true",
        help="no district balancing loop between plans (energy.control.balancing)",
    )
    parser.add_argument("--config", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in ("optimizer.dispatch", "forecasting"):
        logging.getLogger(name).setLevel(logging.ERROR)

    site = load_site(args.config)
    start = pd.Timestamp(args.start, tz="UTC")
    end = start + pd.Timedelta(days=args.days)
    forecast = ForecastConfig(quantiles=[0.5])
    if args.forecast_horizon_h is not None:
        forecast = ForecastConfig(quantiles=[0.5], horizon_h=args.forecast_horizon_h)
    options = EvaluationOptions(
        horizon_slots=args.horizon_slots,
        step_s=args.step_s,
        seed=args.seed,
        forecast_every_slots=args.forecast_every,
        training_days=args.training_days,
        bound=not args.no_bound,
        balancing=not args.no_balancing,
        forecast_config=forecast,
    )
    policies = args.policy or ["rule-tuned", "mpc", "oracle"]
    print(
        f"{site.id}: {start.isoformat()} + {args.days:g} days, policies {policies}, horizon "
        f"{options.horizon_slots} slots, forecasts every {options.forecast_every_slots} slots, "
        f"physics step {options.step_s:g} s, seed {options.seed}"
    )
    wall, cpu = time.perf_counter(), time.process_time()
    report = evaluate(site, start, end, policies, options)
    print(
        f"all policies: wall {time.perf_counter() - wall:.1f} s, "
        f"cpu {time.process_time() - cpu:.1f} s"
    )
    for policy, summary in report.summary["policies"].items():
        t = summary["timing"]
        loop = t["wall_seconds"] - t["set_up_seconds"]
        year = t["set_up_seconds"] + loop * SLOTS_PER_YEAR / t["slots"]
        year_cpu = t["set_up_cpu_seconds"] + t["loop_cpu_ms_per_slot"] * SLOTS_PER_YEAR / 1000
        print(
            f"{policy:>8}: wall {t['wall_seconds']:8.1f} s (set-up {t['set_up_seconds']:.1f}, "
            f"plan+dispatch {t['plan_and_dispatch_seconds']:.1f}, forecasts "
            f"{t['forecast_seconds']:.1f} in {summary['forecast_issues']} issues, physics "
            f"{t['physics_seconds']:.1f}); cpu {t['cpu_seconds']:.1f} s; loop "
            f"{1000 * loop / t['slots']:.1f} ms/slot wall, {t['loop_cpu_ms_per_slot']:.1f} "
            f"ms/slot cpu; a year at this rate: {year / 60:.1f} min wall, "
            f"{year_cpu / 60:.1f} min cpu"
        )
    policies_run = list(report.summary["policies"])
    print(f"{'figure':<24}" + "".join(f"{p:>14}" for p in policies_run))
    for name in FIGURES:
        values = [report.summary["policies"][p]["figures"][name] for p in policies_run]
        print(f"{name:<24}" + "".join(f"{v:14.3f}" for v in values))
    for policy in policies_run:
        summary = report.summary["policies"][policy]
        print(f"{policy}: stored energy change {summary['stored_energy_change_kwh']}")
        print(
            f"{policy}: cost with stored energy valued {summary['cost_with_stored_energy_eur']:.2f}"
        )
        for kind, tracked in summary["plan_tracking"].items():
            print(
                f"{policy}: plan tracking {kind}: planned {tracked['planned_kwh']:.1f} kWh, "
                f"metered {tracked['metered_kwh']:.1f} kWh, mean |deviation| "
                f"{tracked['mean_abs_deviation_kwh_per_slot']:.3f} kWh/slot"
            )
    if "bound_eur" in report.summary:
        print(f"bound_eur: {report.summary['bound_eur']:.2f} ({report.summary['bound_relaxes']})")
    if "rule_tuned" in report.summary:
        print(f"rule-tuned sweep: {report.summary['rule_tuned']}")
    comparison = report.summary["comparison"]
    for key, value in comparison.items():
        print(f"{key}: {value}")
    if args.out:
        for path in write_report(report, Path(args.out)):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
