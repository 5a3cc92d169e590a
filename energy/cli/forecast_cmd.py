"""`kv forecast`: train, backtest, issue and inspect the forecasting models."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from energy.cli.params import ConfigOpt, UrlOpt, fail, load_site_or_exit, open_store
from energy.config import PVConfig
from energy.timegrid import SLOT, as_utc, floor_slot
from forecasting.config import FeatureGroup, ForecastConfig, ForecastConfigError
from forecasting.config import load_forecast_config as _load_forecast_config
from forecasting.targets import Target, TargetKind, site_targets

app = typer.Typer(
    help="Forecasts of load, heat demand and PV: train models, backtest them against the German "
    "baselines, issue forecasts and show what is stored.",
    no_args_is_help=True,
)
log = logging.getLogger(__name__)

ForecastConfigOpt = typer.Option(
    None, "--forecast-config", "-f", help="Forecasting configuration YAML (default: built-in)."
)
SeedOpt = typer.Option(0, "--seed", help="Seed of the simulated district.")
TargetsOpt = typer.Option(None, "--target", "-t", help="Only these targets (repeatable).")
DataOpt = typer.Option(
    None, "--data", help="Meter export CSV (timestamp with UTC offset, 15 min or hourly)."
)
WeatherOpt = typer.Option(None, "--weather", help="Weather CSV for --data.")
ReportOpt = typer.Option(None, "--report", help="HTML report path (default: <data_dir>/reports/).")


def _forecast_config(path: Path | None) -> ForecastConfig:
    try:
        return _load_forecast_config(path)
    except ForecastConfigError as exc:
        raise fail(str(exc)) from exc


def _date(value: str, name: str) -> pd.Timestamp:
    """A date or datetime; dates and naive times are taken in UTC midnight/as UTC explicitly."""
    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise fail(f"{name}: cannot read {value!r} as a date (expected e.g. 2026-01-31)") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _default_year() -> tuple[pd.Timestamp, pd.Timestamp]:
    year = dt.datetime.now(dt.UTC).year - 1
    return pd.Timestamp(f"{year}-01-01T00:00Z"), pd.Timestamp(f"{year + 1}-01-01T00:00Z")


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@app.command("train")
def train(
    date_from: str = typer.Option(None, "--from", help="Training start (default: last year)."),
    date_to: str = typer.Option(None, "--to", help="Training end, exclusive."),
    source: str = typer.Option(
        "simulated", "--source", help="'simulated' (the simulated district) or 'store'."
    ),
    targets: list[str] = TargetsOpt,
    config: ConfigOpt = None,
    forecast_config: Path | None = ForecastConfigOpt,
    url: UrlOpt = None,
    seed: int = SeedOpt,
) -> None:
    """Train the models of every target, save them under <data_dir>/models and register them."""
    from energy.control.history import store_history
    from energy.control.model_registry import save_service
    from energy.physics.profiles import district_profiles
    from forecasting.service import ForecastService

    site = load_site_or_exit(config)
    settings = _forecast_config(forecast_config)
    start, end = _default_year()
    start = _date(date_from, "--from") if date_from else start
    end = _date(date_to, "--to") if date_to else end
    store = open_store(site, url)
    if source == "simulated":
        history = district_profiles(site, start, end, seed)
    elif source == "store":
        history = store_history(store, site, start, end)
    else:
        raise fail(f"--source: expected 'simulated' or 'store'; found {source!r}")
    try:
        service = ForecastService(site, settings, targets=targets or None)
    except KeyError as exc:
        raise fail(str(exc.args[0])) from exc
    with _progress() as progress:
        task = progress.add_task("training", total=len(service.targets))
        try:
            service.fit(history, progress=lambda _name: progress.advance(task))
        except (ValueError, KeyError) as exc:
            raise fail(f"training on {source} data {start.date()}..{end.date()}: {exc}") from exc
    versions = save_service(service, store)
    table = Table(title=f"models trained on {start.date()} .. {end.date()} ({source})")
    for column in ("target", "version", "train MAE [kW]", "slots"):
        table.add_column(column)
    for name, version in versions.items():
        metrics = service.models[name].metrics
        table.add_row(name, version, f"{metrics['train_mae']:.3f}", str(metrics["train_slots"]))
    Console().print(table)


def _csv_target(name: str, kind: str | None, pv: PVConfig | None) -> Target:
    guessed = kind or (
        "pv" if "pv" in name.lower() else "heat" if "heat" in name.lower() else "load"
    )
    try:
        target_kind = TargetKind(guessed)
    except ValueError as exc:
        raise fail(f"--kind: expected load, heat or pv; found {guessed!r}") from exc
    if target_kind == TargetKind.PV and pv is None:
        raise fail("a PV column needs the plant: pass --pv-peak-kw (and tilt/azimuth)")
    return Target(name, target_kind, None, (name,), None, (pv,) if pv else ())


def _csv_data(
    data: Path, column: str, weather: Path | None, values: str
) -> tuple[pd.DataFrame, bool]:
    from connectors.weather import WeatherFeedError, read_weather_csv
    from forecasting.data import DataError, read_meter_csv

    try:
        series = read_meter_csv(data, column, values=values)  # type: ignore[arg-type]
        frame = series.to_frame()
        if weather is not None:
            wx = read_weather_csv(weather)
            frame = frame.join(wx.reindex(frame.index))
    except (DataError, WeatherFeedError) as exc:
        raise fail(str(exc)) from exc
    return frame, weather is not None


def _weatherless(settings: ForecastConfig) -> ForecastConfig:
    """Load features without weather (a meter export without a weather file)."""
    keep = [
        g
        for g in settings.features.load
        if g not in (FeatureGroup.TEMPERATURE, FeatureGroup.IRRADIANCE, FeatureGroup.SOLAR)
    ]
    features = settings.features.model_copy(update={"load": keep})
    return settings.model_copy(update={"features": features})


def _metrics_json(result: Any) -> dict[str, Any]:
    from energy.store.forecasts import plain_json

    start, end = result.period
    return plain_json(
        {
            "target": result.target.name,
            "period_start": start,
            "period_end": end,
            "settings": result.settings,
            "metrics": result.metrics,
        }
    )


def _config_version(settings: ForecastConfig) -> str:
    """Backtests train their own models: they are versioned by a digest of the configuration,
    so that runs with different features or parameters stay apart in the store."""
    digest = hashlib.sha1(settings.model_dump_json().encode(), usedforsecurity=False)
    return f"config-{digest.hexdigest()[:10]}"


_SHORT = {
    "persistence": "pers",
    "seasonal_naive": "snaive",
    "bdew_h25": "H25",
    "bdew_h0": "H0",
    "bdew_heat": "SigLinDe",
    "smart_persistence": "smartp",
}


def _print_metrics(result: Any) -> None:
    table = Table(title=f"backtest {result.target.name}: {result.settings['issues']} issues")
    columns = ["forecaster", "MAE kW", "RMSE kW", "nMAE", "MASE"]
    columns += [f"sk {_SHORT.get(b, b)}" for b in result.baselines]
    columns += ["pinball", "cover"]
    for number, column in enumerate(columns):
        table.add_column(column, justify="left" if number == 0 else "right", no_wrap=number == 0)

    def fmt(value: Any) -> str:
        return "" if value is None or pd.isna(value) else f"{value:.3f}"

    for name, values in result.metrics.items():
        row = [name, fmt(values["mae"]), fmt(values["rmse"]), fmt(values["nmae"])]
        row.append(fmt(values["mase"]))
        row += [fmt(values.get(f"skill_vs_{b}")) for b in result.baselines]
        row += [fmt(values.get("pinball_mean")), fmt(values.get("coverage"))]
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(
        "nMAE = MAE / mean actual of the scored slots; sk X = skill against baseline X = "
        "1 - MAE / MAE(X); cover = share of actuals inside the outermost quantile interval"
    )


@app.command("backtest")
def backtest(
    target: str = typer.Option(..., "--target", "-t", help="Target, or the CSV column (--data)."),
    date_from: str = typer.Option(None, "--from", help="First issue day (default: data start)."),
    date_to: str = typer.Option(None, "--to", help="End of the issue period, exclusive."),
    data: Path | None = DataOpt,
    weather: Path | None = WeatherOpt,
    values: str = typer.Option(
        "power", "--values", help="--data values: 'power' kW or 'energy' kWh."
    ),
    kind: str | None = typer.Option(None, "--kind", help="--data target kind: load, heat or pv."),
    pv_peak_kw: float | None = typer.Option(None, "--pv-peak-kw", help="--data PV plant size."),
    pv_tilt_deg: float = typer.Option(30.0, "--pv-tilt-deg", help="--data PV plant tilt."),
    pv_azimuth_deg: float = typer.Option(180.0, "--pv-azimuth-deg", help="--data PV azimuth."),
    history_days: float = typer.Option(
        365.0, "--history-days", help="Simulated history before --from available for training."
    ),
    refit_days: float | None = typer.Option(None, "--refit-days", help="Refit cadence override."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON only."),
    report: Path | None = ReportOpt,
    config: ConfigOpt = None,
    forecast_config: Path | None = ForecastConfigOpt,
    url: UrlOpt = None,
    seed: int = SeedOpt,
) -> None:
    """Rolling-origin backtest of one target against its baselines: metrics table and report.

    Without --data the simulated district is used and the result is stored; with --data the CSV
    is backtested without touching the store.
    """
    from energy.control.model_registry import models_dir
    from energy.physics.profiles import district_profiles
    from forecasting.backtest import run_backtest
    from forecasting.report import write_report

    site = load_site_or_exit(config)
    settings = _forecast_config(forecast_config)
    if refit_days is not None:
        settings = settings.model_copy(
            update={
                "backtest": settings.backtest.model_copy(update={"refit_every_days": refit_days})
            }
        )
    location = site.config.location
    if data is not None:
        pv = (
            PVConfig(peak_kw=pv_peak_kw, tilt_deg=pv_tilt_deg, azimuth_deg=pv_azimuth_deg)
            if pv_peak_kw
            else None
        )
        chosen = _csv_target(target, kind, pv)
        frame, has_weather = _csv_data(data, target, weather, values)
        if not has_weather:
            settings = _weatherless(settings)
        start = _date(date_from, "--from") if date_from else frame.index[0]
        end = _date(date_to, "--to") if date_to else frame.index[-1] + SLOT
    else:
        targets = {t.name: t for t in site_targets(site)}
        if target not in targets:
            raise fail(f"unknown target {target!r}; known: {', '.join(sorted(targets))}")
        chosen = targets[target]
        if not (date_from and date_to):
            raise fail("--from and --to are required for the simulated district")
        start, end = _date(date_from, "--from"), _date(date_to, "--to")
        history_start = floor_slot(start - pd.Timedelta(days=history_days))
        frame = district_profiles(
            site, history_start, end + settings.horizon_slots * SLOT + pd.Timedelta(days=1), seed
        )
    with _progress() as progress:
        task = progress.add_task(f"backtest {chosen.name}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = run_backtest(chosen, frame, settings, location, start, end, progress=advance)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = chosen.name.replace(":", "_").replace("/", "_")
    report_path = (
        report or models_dir(site.config).parent / "reports" / f"backtest-{safe}-{stamp}.html"
    )
    write_report(result, report_path, location.timezone)
    if data is None:
        from energy.store.forecasts import write_backtest

        store = open_store(site, url)
        period_start, period_end = result.period
        backtest_id = write_backtest(
            store,
            chosen.name,
            _config_version(settings),
            period_start,
            period_end,
            result.settings,
            result.metrics,
            str(report_path),
        )
        log.info("stored backtest %d", backtest_id)
    if as_json:
        typer.echo(json.dumps(_metrics_json(result), indent=2))
        return
    _print_metrics(result)
    Console().print(f"report: {report_path}")


@app.command("issue")
def issue(
    at: str = typer.Option(None, "--at", help="Issue time (default: now, floored to 15 min)."),
    config: ConfigOpt = None,
    url: UrlOpt = None,
    seed: int = SeedOpt,
) -> None:
    """Issue one forecast of every trained target for the simulated district and store it."""
    from energy.control.model_registry import load_service
    from energy.physics.profiles import district_profiles
    from energy.store.forecasts import write_forecasts
    from forecasting.weather_error import simulate_weather_forecast

    site = load_site_or_exit(config)
    store = open_store(site, url)
    try:
        service = load_service(site, store)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    issue_time = floor_slot(_date(at, "--at") if at else pd.Timestamp.now(tz="UTC"))
    horizon = service.config.horizon_slots * SLOT
    history = district_profiles(
        site, issue_time - pd.Timedelta(days=10), issue_time + horizon, seed
    )
    weather = simulate_weather_forecast(
        history, issue_time, service.config.horizon_slots, service.config.weather_error
    )
    frame = service.predict(issue_time, history.loc[: issue_time - SLOT], weather)
    rows = write_forecasts(store, frame)
    Console().print(
        f"issued {issue_time.isoformat()}: {rows} rows for {frame['target'].nunique()} targets"
    )


@app.command("show")
def show(
    target: str | None = typer.Option(None, "--target", "-t", help="Only this target."),
    at: str | None = typer.Option(
        None, "--at", help="Show the latest forecast of --target issued at or before this time."
    ),
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Show registered models, stored backtests and (with --target --at) the latest forecast."""
    from energy.store.forecasts import list_backtests, list_models, read_latest_forecast

    site = load_site_or_exit(config)
    store = open_store(site, url)
    console = Console()
    models = list_models(store, target)
    table = Table(title="forecast models (newest first)")
    for column in ("version", "target", "kind", "trained on", "train MAE [kW]"):
        table.add_column(column)
    for row in models.head(40).itertuples():
        window = (
            f"{pd.Timestamp(row.training_start).date()} .. {pd.Timestamp(row.training_end).date()}"
        )
        mae = (row.metrics or {}).get("train_mae")
        table.add_row(
            row.version, row.target, row.kind, window, "" if mae is None else f"{mae:.3f}"
        )
    console.print(table)
    runs = list_backtests(store, target)
    table = Table(title="backtests (newest first)")
    for column in ("id", "target", "period", "model MAE", "skills", "report"):
        table.add_column(column)
    for row in runs.head(20).itertuples():
        model = (row.metrics or {}).get("model", {})
        skills = ", ".join(
            f"{k[9:]} {v:.2f}"
            for k, v in model.items()
            if k.startswith("skill_vs_") and v is not None
        )
        period = f"{pd.Timestamp(row.period_start).date()} .. {pd.Timestamp(row.period_end).date()}"
        mae = model.get("mae")
        table.add_row(
            str(row.id),
            row.target,
            period,
            "" if mae is None else f"{mae:.3f}",
            skills,
            str(row.report_path or ""),
        )
    console.print(table)
    if target and at:
        frame = read_latest_forecast(store, target, as_utc(_date(at, "--at")))
        if frame.empty:
            console.print(f"no forecast of {target} issued at or before {at}")
            return
        wide = frame.pivot(index="valid_time", columns="quantile", values="value")
        console.print(
            f"forecast of {target} issued {frame['issue_time'].iloc[0].isoformat()} "
            f"by {frame['model_version'].iloc[0]}"
        )
        console.print(wide.head(16).to_string(float_format=lambda v: f"{v:.3f}"))
