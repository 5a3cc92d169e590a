"""`kv optimize`: plan a district from an analyst's INPUTS.csv (and optional STATE.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from energy.cli.autarky import autarky_line
from energy.cli.params import ConfigOpt
from energy.config import SiteConfigError
from energy.site import load_site
from optimizer import DispatchOptimizer, InputError, OptimizerOptions
from optimizer.io import read_inputs_csv, read_state_json, write_result

__all__ = ["optimize"]


def optimize(
    inputs: Annotated[
        Path, typer.Option("--inputs", help="INPUTS.csv: one row per 15-minute slot.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for plan.csv and summary.json.")],
    config: ConfigOpt = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="STATE.json (default: the configuration's initial state)."),
    ] = None,
    on_off: Annotated[
        bool,
        typer.Option(
            "--heat-pump-on-off/--continuous-heat-pumps",
            help="Model heat pump on/off, minimum times and SG Ready states (a MILP).",
        ),
    ] = False,
    time_limit_s: Annotated[
        float, typer.Option("--time-limit", help="Solver time limit in seconds.")
    ] = 30.0,
    mip_gap: Annotated[float, typer.Option("--mip-gap", help="Relative MILP gap accepted.")] = 0.01,
) -> None:
    """Optimize the dispatch over the horizon of INPUTS.csv and write the plan."""
    try:
        site = load_site(config)
        plan_inputs = read_inputs_csv(inputs, site)
        initial = read_state_json(state, site) if state is not None else None
        options = OptimizerOptions(
            horizon_slots=plan_inputs.n_slots,
            heat_pump_on_off=on_off,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_gap,
        )
        result = DispatchOptimizer(site, options=options).solve(plan_inputs, initial)
    except (SiteConfigError, InputError, ValueError) as exc:
        typer.echo(f"kv optimize: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    plan_path, summary_path = write_result(result, out)
    summary = result.summary
    typer.echo(
        f"status {summary.status} ({summary.stage}), objective "
        f"{summary.objective_eur:.2f} EUR, {len(result.violations)} violation(s), "
        f"build {summary.build_seconds:.3f} s, solve {summary.solve_seconds:.3f} s"
    )
    typer.echo(autarky_line(summary.cost_breakdown))
    for violation in result.violations:
        typer.echo(f"  violation: {violation}")
    typer.echo(f"wrote {plan_path} and {summary_path}")
