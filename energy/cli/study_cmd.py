"""`kv study run` and `kv study report`: concept studies on Dask (docs/studies.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from energy.study import (
    StudyProgress,
    StudySpecError,
    load_study_spec,
    run_study,
    write_study_report,
)

__all__ = ["app"]

app = typer.Typer(
    help="Concept studies: many closed-loop evaluations on Dask.", no_args_is_help=True
)

#: Loggers that report per-slot or per-connection events: only warnings pass by default.
_QUIET_LOGGERS = ("distributed", "optimizer.dispatch", "energy.control.commands", "forecasting")


@app.command("run")
def run(
    spec_file: Annotated[Path, typer.Argument(help="Study spec (YAML).", metavar="SPEC.yaml")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the tasks' results.")],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Base site (YAML); overrides the spec's `base`."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Address of a running `dask scheduler` (tcp://HOST:8786); default: a "
            "LocalCluster on this machine.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="LocalCluster worker processes (default: cores)."),
    ] = None,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retries of a task that raises.")
    ] = 2,
) -> None:
    """Run every unfinished task of the study; finished ones are skipped."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        spec, sites = load_study_spec(spec_file, base=config)
    except StudySpecError as exc:
        typer.echo(f"kv study run: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(f"study {spec.name}", total=None)
        dashboard_shown = False

        def progress(state: StudyProgress) -> None:
            nonlocal dashboard_shown
            if state.dashboard_link and not dashboard_shown:
                bar.console.log(f"Dask dashboard: {state.dashboard_link}")
                dashboard_shown = True
            left = "" if state.left_s is None else f", about {_duration(state.left_s)} left"
            bar.update(
                task,
                completed=state.done,
                total=state.total,
                description=(
                    f"study {spec.name}: {state.running} running, {state.failed} failed{left}"
                ),
            )
            if state.finished_task_id is not None:
                bar.console.log(f"finished {state.finished_task_id}")

        try:
            outcome = run_study(spec, sites, out, scheduler, workers, retries, progress)
        except (OSError, TimeoutError) as exc:
            where = f"scheduler {scheduler}" if scheduler else "the LocalCluster"
            typer.echo(f"kv study run: {where} or {out}: {exc}", err=True)
            raise typer.Exit(code=1) from exc
    typer.echo(
        f"study {spec.name}: {len(outcome.computed)} computed, {len(outcome.skipped)} already "
        f"finished, {len(outcome.failed)} failed; results in {out}"
    )
    for task_id, error in outcome.failed.items():
        typer.echo(f"failed: {task_id}: {error}", err=True)
    if outcome.failed:
        raise typer.Exit(code=1)


def _duration(seconds: float) -> str:
    """12 s, 7 min, 2 h 5 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60.0)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@app.command("report")
def report(
    out: Annotated[Path, typer.Argument(help="Study directory written by `kv study run`.")],
) -> None:
    """Write report.html and study_table.csv from the finished tasks."""
    try:
        paths = write_study_report(out)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"kv study report: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    for path in paths:
        typer.echo(f"wrote {path}")
