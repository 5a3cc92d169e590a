"""Entry point of the `kv` command: one Typer app with a sub-command group per concern.

Each concern lives in its own module under energy/cli/ and is registered here with one line.
"""

from __future__ import annotations

import logging

import typer

from energy.cli import (
    audit_cmd,
    config_cmd,
    db_cmd,
    devices_cmd,
    evaluate_cmd,
    forecast_cmd,
    init_cmd,
    opendata_cmd,
    optimize_cmd,
    prices_cmd,
    run_cmd,
    serve_cmd,
    simulate_cmd,
    study_cmd,
    user_cmd,
)
from energy.cli.params import PlatformErrorGroup

app = typer.Typer(
    cls=PlatformErrorGroup,
    help="Klimaviertel energy control platform: configuration, store, devices, forecasts, plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "pymodbus", "apscheduler.executors", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


app.command("init")(init_cmd.init)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(forecast_cmd.app, name="forecast")
app.add_typer(prices_cmd.app, name="prices")
app.command("simulate")(simulate_cmd.simulate)
devices_cmd.register(app)
app.command("optimize")(optimize_cmd.optimize)
app.command("evaluate")(evaluate_cmd.evaluate_command)
app.command("serve")(serve_cmd.serve)
app.command("run")(run_cmd.run)
app.add_typer(user_cmd.app, name="user")
app.add_typer(opendata_cmd.app, name="opendata")
app.add_typer(study_cmd.app, name="study")


def main() -> None:
    app()
