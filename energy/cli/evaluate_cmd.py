"""`kv evaluate`: closed-loop evaluation of control policies on the simulated district."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from energy.cli.autarky import autarky_line
from energy.cli.params import ConfigOpt
from energy.config import SiteConfigError
from energy.evaluation import (
    EvaluationOptions,
    EvaluationReport,
    Policy,
    evaluate,
    write_report,
)
from energy.evaluation.metrics import FIGURES
from energy.evaluation.tariffs import load_tariff_variant
from energy.site import Site, load_site
from forecasting.config import ForecastConfig, ForecastConfigError, load_forecast_config

__all__ = ["evaluate_command"]

#: Loggers that report per-slot events; a year has 35,040 slots, so only errors pass by default.
_PER_SLOT_LOGGERS = ("optimizer.dispatch", "energy.control.commands", "forecasting")


def _utc_day(value: str, option: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{option}: expected an ISO date (2026-01-01) or time (2026-01-01T06:00Z); found "
            f"{value!r}"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    stamp = stamp.tz_convert("UTC")
    if stamp != stamp.floor("15min"):
        raise typer.BadParameter(f"{option}: expected a 15-minute slot boundary; found {value!r}")
    return stamp


def _policy(name: str) -> Policy:
    try:
        return Policy(name)
    except ValueError:
        raise ValueError(
            f"--policy: expected one of {', '.join(p.value for p in Policy)}; found {name!r}"
        ) from None


def evaluate_command(
    policy_names: Annotated[
        list[str],
        typer.Option(
            "--policy",
            "-p",
            help=(
                "Policy to run: rule, rule-tuned, mpc, perfect-forecast or oracle ('perfect' is "
                "an old name of perfect-forecast); repeat to compare several in one call."
            ),
        ),
    ],
    start: Annotated[
        str, typer.Option("--from", help="Start, UTC (ISO date or time on a 15-min boundary).")
    ],
    end: Annotated[str, typer.Option("--to", help="End, UTC, exclusive.")],
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for the CSV, JSON and HTML report files."),
    ] = None,
    horizon_slots: Annotated[
        int, typer.Option("--horizon-slots", help="Planning horizon in 15-minute slots.")
    ] = EvaluationOptions.horizon_slots,
    forecast_every_slots: Annotated[
        int,
        typer.Option("--forecast-every", help="mpc: issue a forecast every N slots (1 = 15 min)."),
    ] = EvaluationOptions.forecast_every_slots,
    training_days: Annotated[
        int,
        typer.Option("--training-days", help="mpc: days before --from the forecaster learns on."),
    ] = EvaluationOptions.training_days,
    forecast_config: Annotated[
        Path | None,
        typer.Option("--forecast-config", help="Forecasting configuration (YAML)."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the simulated world and forecast errors.")
    ] = 0,
    step_s: Annotated[
        float, typer.Option("--step-s", help="Physics step in seconds.")
    ] = EvaluationOptions.step_s,
    bound: Annotated[
        bool,
        typer.Option(
            "--bound/--no-bound",
            help="Also compute the relaxation's lower bound (one LP per 31 days of the period).",
        ),
    ] = True,
    balancing: Annotated[
        bool,
        typer.Option(
            "--balancing/--no-balancing",
            help="Run the district balancing loop between plans after every physics step, as "
            "the live dispatcher does every cycle (planning policies).",
        ),
    ] = True,
    per_slot: Annotated[
        bool,
        typer.Option("--per-slot/--no-per-slot", help="Also write one CSV per policy per slot."),
    ] = True,
    valuation_slots: Annotated[
        int,
        typer.Option(
            "--valuation-slots",
            help="How far after the period the energy left in store is valued by a "
            "perfect-foresight plan, in 15-minute slots (a week by default).",
        ),
    ] = EvaluationOptions.valuation_horizon_slots,
    tariff_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--tariff-config",
            help=(
                "A YAML file with one 'tariff:' section; repeat to compare tariffs: the period "
                "is evaluated under each (planned and billed with it) and the cost per tariff "
                "printed (reports under --out/<file stem>/)."
            ),
        ),
    ] = None,
) -> None:
    """Run policies in closed loop on the simulated district and report their figures."""
    console = Console(stderr=True)
    begin, finish = _utc_day(start, "--from"), _utc_day(end, "--to")
    if finish <= begin:
        raise typer.BadParameter(f"--to ({end}) must be after --from ({start})")
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in _PER_SLOT_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        policies = [_policy(name) for name in policy_names]
        site = load_site(config)
        variants = [load_tariff_variant(path, site.config) for path in tariff_files or []]
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"--tariff-config: file names must differ (stems {names})")
        loaded = load_forecast_config(forecast_config) if forecast_config else None
        options = EvaluationOptions(
            horizon_slots=horizon_slots,
            step_s=step_s,
            seed=seed,
            forecast_every_slots=forecast_every_slots,
            training_days=training_days,
            forecast_config=loaded or ForecastConfig(quantiles=[0.5]),
            bound=bound,
            balancing=balancing,
            valuation_horizon_slots=valuation_slots,
        )
    except (SiteConfigError, ForecastConfigError, ValueError) as exc:
        typer.echo(f"kv evaluate: {exc}", err=True)
        raise typer.Exit(code=2) from exc

    if not tariff_files:
        report = _run(site, begin, finish, policies, options, console)
        _print_report(report, site.id, begin, finish)
        if out is not None:
            for path in write_report(report, out, per_slot=per_slot):
                typer.echo(f"wrote {path}")
        return
    costs: dict[str, dict[str, dict[str, float]]] = {}
    for variant in variants:
        typer.echo(f"tariff {variant.name} ({variant.config.source_path})")
        report = _run(Site.from_config(variant.config), begin, finish, policies, options, console)
        _print_report(report, f"{site.id}, tariff {variant.name}", begin, finish)
        costs[variant.name] = {
            policy: {
                "cost_eur": summary["figures"]["cost_eur"],
                "cost_with_stored_energy_eur": summary["cost_with_stored_energy_eur"],
            }
            for policy, summary in report.summary["policies"].items()
        }
        if out is not None:
            for path in write_report(report, out / variant.name, per_slot=per_slot):
                typer.echo(f"wrote {path}")
    _print_tariff_costs(costs)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "tariffs.json"
        path.write_text(json.dumps(costs, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {path}")


def _run(
    site: Site,
    begin: pd.Timestamp,
    finish: pd.Timestamp,
    policies: list[Policy],
    options: EvaluationOptions,
    console: Console,
) -> EvaluationReport:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} slots"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(policy: str, done: int, total: int) -> None:
            if policy not in tasks:
                tasks[policy] = bar.add_task(policy, total=total)
            if done % 96 == 0 or done == total:
                bar.update(tasks[policy], completed=done)

        return evaluate(
            site, begin, finish, policies, options, progress, lambda text: bar.console.log(text)
        )


def _print_tariff_costs(costs: dict[str, dict[str, dict[str, float]]]) -> None:
    """Cost per policy (rows) under each tariff (columns), as metered in its own run."""
    table = Table(title="cost per tariff, EUR (with stored energy valued)")
    table.add_column("policy")
    for name in costs:
        table.add_column(name, justify="right")
    policies = list(next(iter(costs.values())))
    for policy in policies:
        table.add_row(
            policy,
            *(
                f"{c[policy]['cost_eur']:.2f} ({c[policy]['cost_with_stored_energy_eur']:.2f})"
                for c in costs.values()
            ),
        )
    Console().print(table)


def _print_report(
    report: EvaluationReport, title: str, begin: pd.Timestamp, finish: pd.Timestamp
) -> None:
    table = Table(title=f"{title}: {begin.isoformat()} .. {finish.isoformat()}")
    table.add_column("figure")
    for policy in report.summary["policies"]:
        table.add_column(policy, justify="right")
    for name in FIGURES:
        table.add_row(
            name, *(f"{s['figures'][name]:.3f}" for s in report.summary["policies"].values())
        )
    Console().print(table)
    for policy, run in report.summary["policies"].items():
        typer.echo(f"{policy}: {autarky_line(run['figures'])}")
    if "bound_eur" in report.summary:
        typer.echo(
            f"lower bound: {report.summary['bound_eur']:.2f} EUR ({report.summary['bound_relaxes']})"
        )
    tuned = report.summary.get("rule_tuned")
    if tuned is not None:
        setpoint = tuned["thermostat_setpoint_c"]
        typer.echo(
            "rule-tuned thermostat setpoint: "
            + ("as shipped" if setpoint is None else f"{setpoint:g} degC")
        )
    for name, text in (
        ("mpc_saving_vs_rule_tuned_frac", "mpc saving against rule-tuned"),
        ("mpc_capture_of_oracle_saving_frac", "mpc capture of the oracle's saving"),
    ):
        if name in report.summary:
            value = report.summary[name]
            typer.echo(f"{text}: " + ("n/a" if value is None else f"{100 * value:.1f} %"))
    for policy, summary in report.summary["policies"].items():
        typer.echo(f"{policy}: {summary['timing']['wall_seconds']:.1f} s wall")
