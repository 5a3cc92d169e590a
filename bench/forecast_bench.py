"""Forecasting benchmark against the goals of issue 5. Prints figures; asserts nothing.

    .venv/bin/python bench/forecast_bench.py            # full: a year of day-ahead backtests
    .venv/bin/python bench/forecast_bench.py --quick    # one quarter, for a smoke run

1. Accuracy: rolling-origin day-ahead backtests of the district targets on the simulated district.
   History: the simulated year before the evaluation year (default 2025); issues at 12:00 local
   time on every day of the evaluation year (default 2026), scoring the next local day (leads
   12-36 h), expanding window refitted every --refit-days days, weather from the simulated weather
   forecast (error growing with lead, see forecasting/weather_error.py).
   Then two oracle references for the district load against BDEW H25 (see load_references).
2. Optional (--simbench): the same day-ahead backtest on a real-data-shaped series, the SimBench
   household profile H0-A (2016, peak-normalised), with weather-free load features (SimBench ships
   no weather); needs SimBench installed in your environment (not a dependency).
3. Speed: training every target of the default site on one year of 15-minute data, and issuing
   one forecast for all targets (median of --issues issues), wall and CPU time. The machine is
   shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import pandas as pd

from energy.physics.profiles import DEFAULT_PROFILE_MODEL, ProfileModel, district_profiles
from energy.site import load_site
from energy.timegrid import SLOT
from forecasting.backtest import MODEL, run_backtest
from forecasting.config import ForecastConfig
from forecasting.features import static_features
from forecasting.service import ForecastService
from forecasting.slp import h25_profile
from forecasting.targets import site_targets
from forecasting.weather_error import simulate_weather_forecast

GOALS = [
    # (target, baseline, minimum skill)
    ("district:load_kw", "seasonal_naive", 0.25),
    ("district:load_kw", "bdew_h25", 0.30),
    ("district:load_kw", "bdew_h0", 0.30),
    ("district:heat_demand_kw", "bdew_heat", 0.30),
    ("district:pv_kw", "smart_persistence", 0.30),
]
TRAIN_GOAL_S = 30.0
ISSUE_GOAL_S = 0.200


def _year(year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp(f"{year}-01-01T00:00Z"), pd.Timestamp(f"{year + 1}-01-01T00:00Z")


def _model(args: argparse.Namespace) -> ProfileModel:
    return ProfileModel(household_load=args.household_load)


def accuracy(args: argparse.Namespace) -> dict[str, dict]:
    site = load_site()
    config = ForecastConfig.model_validate(
        {"backtest": {"refit_every_days": args.refit_days, "initial_train_days": 28}}
    )
    start, end = _year(args.year)
    if args.quick:
        end = start + pd.Timedelta(days=91)
    history_start = _year(args.year - 1)[0]
    data = district_profiles(
        site, history_start, end + pd.Timedelta(days=3), seed=args.seed, model=_model(args)
    )
    targets = {t.name: t for t in site_targets(site)}
    results = {}
    for name in ("district:load_kw", "district:heat_demand_kw", "district:pv_kw"):
        began, cpu = time.perf_counter(), time.process_time()
        result = run_backtest(targets[name], data, config, site.config.location, start, end)
        print(
            f"\n{name}: {result.settings['issues']} issues, "
            f"{time.perf_counter() - began:.0f} s wall / {time.process_time() - cpu:.0f} s CPU"
        )
        table = result.table()
        shown = [
            c for c in ("mae", "rmse", "nmae", "mase", "pinball_mean", "coverage") if c in table
        ]
        print(table[shown].to_string(float_format=lambda v: f"{v:.3f}"))
        skills = {k: v for k, v in result.metrics[MODEL].items() if k.startswith("skill_vs_")}
        print("model skill: " + ", ".join(f"{k[9:]} {v:.3f}" for k, v in skills.items()))
        results[name] = result.metrics
    return results


def load_references(args: argparse.Namespace) -> dict[str, float]:
    """How far any day-ahead forecast of the district's household load could get below BDEW H25.

    Two oracle references on the evaluation year, each given information no day-ahead forecast
    has: (a) every hour's mean load known exactly, only the quarter hours within it unknown;
    (b) every local day's energy known exactly, spread with the median profile by day type and
    quarter hour learned on the history year. Their skill against H25 (scaled to the year's energy)
    bounds what a forecaster can expect on this district: the rest is behaviour no model sees.
    """
    site = load_site()
    location = site.config.location
    start, end = _year(args.year)
    data = district_profiles(site, _year(args.year - 1)[0], end, seed=args.seed, model=_model(args))
    load = data.filter(like=":load_kw").sum(axis=1)
    local = load.index.tz_convert(location.timezone)
    calendar = static_features(load.index, location)
    key = calendar["day_type"].astype(int) * 100 + (calendar["hour_local"] * 4).round().astype(int)
    history, actual = load.loc[: start - SLOT], load.loc[start:]
    h25 = pd.Series(h25_profile(actual.index, location), index=actual.index)
    h25 *= actual.sum() / h25.sum()
    profile = key.loc[start:].map(history.groupby(key.loc[: start - SLOT]).median())
    day = pd.Index(local[len(history) :].date)
    daily_oracle = profile * (
        actual.groupby(day).transform("mean") / profile.groupby(day).transform("mean")
    )
    hourly_oracle = actual.groupby(actual.index.floor("h")).transform("mean")
    mae = {
        "bdew_h25": float((actual - h25).abs().mean()),
        "oracle_hourly_means": float((actual - hourly_oracle).abs().mean()),
        "oracle_daily_energy_x_profile": float((actual - daily_oracle).abs().mean()),
    }
    print(
        f"\ndistrict:load_kw {args.year}: references against BDEW H25 (MAE {mae['bdew_h25']:.3f} kW)"
    )
    for name in ("oracle_hourly_means", "oracle_daily_energy_x_profile"):
        print(
            f"  {name}: MAE {mae[name]:.3f} kW, skill vs H25 {1 - mae[name] / mae['bdew_h25']:.3f}"
        )
    return mae


def simbench(args: argparse.Namespace) -> dict[str, dict]:
    from forecasting.config import FeatureGroup
    from forecasting.data import simbench_profile
    from forecasting.targets import Target, TargetKind

    site = load_site()
    column = "H0-A_pload"
    series = simbench_profile(column)
    features = ForecastConfig().features.model_copy(
        update={"load": [FeatureGroup.CALENDAR, FeatureGroup.PROFILE, FeatureGroup.LAGS]}
    )
    config = ForecastConfig.model_validate(
        {"backtest": {"refit_every_days": args.refit_days, "initial_train_days": 90}}
    ).model_copy(update={"features": features})
    target = Target(column, TargetKind.LOAD, None, (column,))
    start = series.index[0] + pd.Timedelta(days=91)
    end = series.index[-1] - pd.Timedelta(days=2)
    began = time.perf_counter()
    result = run_backtest(target, series.to_frame(), config, site.config.location, start, end)
    print(
        f"\nSimBench {column} (2016): {result.settings['issues']} issues, "
        f"{time.perf_counter() - began:.0f} s wall"
    )
    table = result.table()
    print(table[["mae", "rmse", "nmae", "mase"]].to_string(float_format=lambda v: f"{v:.3f}"))
    skills = {k: v for k, v in result.metrics[MODEL].items() if k.startswith("skill_vs_")}
    print("model skill: " + ", ".join(f"{k[9:]} {v:.3f}" for k, v in skills.items()))
    return {column: result.metrics}


def speed(args: argparse.Namespace) -> dict[str, float]:
    site = load_site()
    config = ForecastConfig()
    start, end = _year(args.year - 1)
    data = district_profiles(
        site, start, end + pd.Timedelta(days=3), seed=args.seed, model=_model(args)
    )
    history = data.loc[: end - pd.Timedelta(minutes=15)]
    service = ForecastService(site, config)
    began, cpu = time.perf_counter(), time.process_time()
    service.fit(history)
    train_wall, train_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(
        f"\ntraining {len(service.targets)} targets on {len(history)} slots: "
        f"{train_wall:.1f} s wall, {train_cpu:.1f} s CPU"
    )
    walls, cpus = [], []
    for number in range(args.issues):
        issue = end - pd.Timedelta(days=1) + pd.Timedelta(minutes=15 * number)
        weather = simulate_weather_forecast(data, issue, config.horizon_slots, config.weather_error)
        began, cpu = time.perf_counter(), time.process_time()
        frame = service.predict(issue, history, weather)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - cpu)
    print(
        f"one issue, all targets ({len(frame)} rows): median {statistics.median(walls) * 1000:.0f} ms "
        f"wall, {statistics.median(cpus) * 1000:.0f} ms CPU (min {min(walls) * 1000:.0f} ms wall, "
        f"{args.issues} issues)"
    )
    return {
        "train_wall_s": train_wall,
        "train_cpu_s": train_cpu,
        "issue_wall_s_median": statistics.median(walls),
        "issue_cpu_s_median": statistics.median(cpus),
        "issue_wall_s_min": min(walls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2026, help="evaluation year")
    parser.add_argument("--refit-days", type=float, default=28.0)
    parser.add_argument("--issues", type=int, default=20, help="issues timed for speed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--household-load",
        choices=["h25", "synpro"],
        default=DEFAULT_PROFILE_MODEL.household_load,
        help="simulated households (default: the simulator's default)",
    )
    parser.add_argument("--quick", action="store_true", help="evaluate one quarter only")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--simbench", action="store_true", help="also backtest SimBench H0-A")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    figures: dict[str, object] = {"speed": speed(args)}
    if not args.skip_accuracy:
        figures["accuracy"] = accuracy(args)
        figures["load_references"] = load_references(args)
    if args.simbench:
        figures["simbench"] = simbench(args)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    print("\ngoals:")
    timing = figures["speed"]
    assert isinstance(timing, dict)
    print(
        f"  training one year, all targets < {TRAIN_GOAL_S:.0f} s: {timing['train_wall_s']:.1f} s "
        f"wall ({timing['train_cpu_s']:.1f} s CPU)"
    )
    print(
        f"  one issue, all targets < {ISSUE_GOAL_S * 1000:.0f} ms: "
        f"{timing['issue_wall_s_median'] * 1000:.0f} ms wall median "
        f"({timing['issue_cpu_s_median'] * 1000:.0f} ms CPU)"
    )
    accuracy_figures = figures.get("accuracy", {})
    assert isinstance(accuracy_figures, dict)
    for target, baseline, minimum in GOALS:
        if target not in accuracy_figures:
            continue
        value = accuracy_figures[target][MODEL].get(f"skill_vs_{baseline}")
        verdict = "met" if value is not None and value >= minimum else "NOT met"
        print(f"  {target} skill vs {baseline} >= {minimum:.2f}: {value:.3f} ({verdict})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2, default=float)


if __name__ == "__main__":
    main()
