"""`kv evaluate`: closed-loop evaluation of control policies on the simulated district."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from energy.cli.autarky import autarky_line
from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError
from energy.evaluation import EvaluationOptions, Policy, evaluate, write_report
from energy.evaluation.metrics import FIGURES
from energy.site import load_site
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
    config: Annotated[
        Path, typer.Option("--config", help="Site configuration (YAML).")
    ] = DEFAULT_SITE_CONFIG,
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
    per_slot: Annotated[
        bool,
        typer.Option("--per-slot/--no-per-slot", help="Also write one CSV per policy per slot."),
    ] = True,
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
        loaded = load_forecast_config(forecast_config) if forecast_config else None
        options = EvaluationOptions(
            horizon_slots=horizon_slots,
            step_s=step_s,
            seed=seed,
            forecast_every_slots=forecast_every_slots,
            training_days=training_days,
            forecast_config=loaded or ForecastConfig(quantiles=[0.5]),
            bound=bound,
        )
    except (SiteConfigError, ForecastConfigError, ValueError) as exc:
        typer.echo(f"kv evaluate: {exc}", err=True)
        raise typer.Exit(code=2) from exc

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

        report = evaluate(
            site, begin, finish, policies, options, progress, lambda text: bar.console.log(text)
        )

    table = Table(title=f"{site.id}: {begin.isoformat()} .. {finish.isoformat()}")
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
    if out is not None:
        for path in write_report(report, out, per_slot=per_slot):
            typer.echo(f"wrote {path}")
