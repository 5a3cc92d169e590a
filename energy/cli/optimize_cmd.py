"""`kv optimize`: plan a district from an analyst's INPUTS.csv (and optional STATE.json)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from energy.cli.autarky import autarky_line
from energy.cli.params import ConfigOpt
from energy.config import SiteConfigError
from energy.site import Site, load_site
from optimizer import DispatchOptimizer, DispatchState, InputError, OptimizerOptions
from optimizer.decomposition import DecomposedDispatch, DecompositionError
from optimizer.dispatch import complete_plan_values
from optimizer.inputs import DispatchInputs
from optimizer.io import read_inputs_csv, read_state_json, write_decomposed_result, write_result
from optimizer.plant import Plant
from optimizer.result import evaluate_plan

__all__ = ["DECOMPOSE_ABOVE_HOUSES", "Decompose", "optimize"]

#: With --decompose auto, districts of more houses than this are planned house by house: a
#: single LP of a few hundred houses takes minutes and gigabytes (docs/optimizer.md).
DECOMPOSE_ABOVE_HOUSES = 100


class Decompose(StrEnum):
    """Whether `kv optimize` plans the district as one LP or house by house."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


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
    decompose: Annotated[
        Decompose,
        typer.Option(
            "--decompose",
            help=f"Plan house by house, coupled at the grid connection (an LP to within 0.1 %): "
            f"auto above {DECOMPOSE_ABOVE_HOUSES} houses without --heat-pump-on-off, always, "
            "or never.",
        ),
    ] = Decompose.AUTO,
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
        houses = len(site.config.houses)
        if decompose == Decompose.ALWAYS or (
            decompose == Decompose.AUTO and houses > DECOMPOSE_ABOVE_HOUSES and not on_off
        ):
            _decomposed(site, options, plan_inputs, initial, out)
            return
        result = DispatchOptimizer(site, options=options).solve(plan_inputs, initial)
    except (SiteConfigError, InputError, DecompositionError, ValueError) as exc:
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


def _decomposed(
    site: Site,
    options: OptimizerOptions,
    plan_inputs: DispatchInputs,
    initial: DispatchState | None,
    out: Path,
) -> None:
    """Plan house by house (optimizer.decomposition) and write plan.csv and summary.json."""
    typer.echo(f"planning {len(site.config.houses)} houses by decomposition ...", err=True)
    with DecomposedDispatch(site, options) as dispatch:
        plan = dispatch.solve(plan_inputs, initial)
    state = (initial or DispatchState()).completed(site)
    plant = Plant.from_site(site)
    complete_plan_values(plant, plan_inputs, plan.values)
    breakdown, violations = evaluate_plan(
        site.config, plant, options, plan_inputs, state, plan.values
    )
    plan_path, summary_path = write_decomposed_result(
        plan, plan_inputs.index, breakdown, violations, out
    )
    typer.echo(
        f"status {'optimal' if plan.converged else 'gap_not_reached'} (decomposed_lp), objective "
        f"{plan.objective_eur:.2f} EUR, bound {plan.bound_eur:.2f} EUR, gap "
        f"{100 * plan.gap_frac:.3f} %, {plan.iterations} iterations, {len(violations)} "
        f"violation(s), {plan.wall_seconds:.1f} s"
    )
    typer.echo(autarky_line(breakdown))
    for violation in violations:
        typer.echo(f"  violation: {violation}")
    typer.echo(f"wrote {plan_path} and {summary_path}")
