"""Backtest report: one self-contained HTML page (plotly) an analyst can open offline.

Sections: the metrics table (model and every baseline, with the nMAE denominator stated), forecast
vs actual over the last scored days (median, 10-90 % band, baselines), MAE by local hour of day per
forecaster, and the model's skill against each baseline.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from forecasting.backtest import MODEL, BacktestResult

__all__ = ["write_report"]

_SHOW_DAYS = 7


def _forecast_vs_actual(result: BacktestResult) -> go.Figure:
    frame = result.predictions
    last = frame["valid_time"].max()
    recent = frame[frame["valid_time"] > last - pd.Timedelta(days=_SHOW_DAYS)]
    recent = recent.sort_values("valid_time").drop_duplicates("valid_time", keep="last")
    x = recent["valid_time"]
    fig = go.Figure()
    quantiles = sorted(c for c in frame.columns if c.startswith("q") and c[1:].isdigit())
    if len(quantiles) >= 2:
        fig.add_trace(go.Scatter(x=x, y=recent[quantiles[-1]], line={"width": 0}, showlegend=False))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=recent[quantiles[0]],
                fill="tonexty",
                line={"width": 0},
                name=f"model {quantiles[0][1:]}-{quantiles[-1][1:]} %",
                fillcolor="rgba(31,119,180,0.2)",
            )
        )
    fig.add_trace(go.Scatter(x=x, y=recent["actual"], name="actual", line={"color": "black"}))
    fig.add_trace(
        go.Scatter(x=x, y=recent["q50"], name="model (median)", line={"color": "#1f77b4"})
    )
    for name in result.baselines:
        fig.add_trace(go.Scatter(x=x, y=recent[name], name=name, line={"dash": "dot"}))
    fig.update_layout(
        title=f"{result.target.name}: forecast vs actual, last {_SHOW_DAYS} scored days (UTC)",
        yaxis_title="kW",
        height=420,
    )
    return fig


def _error_by_hour(result: BacktestResult, timezone: str) -> go.Figure:
    frame = result.predictions.dropna(subset=["actual"])
    hour = frame["valid_time"].dt.tz_convert(timezone).dt.hour
    fig = go.Figure()
    for name in ["q50", *result.baselines]:
        mae = (frame[name] - frame["actual"]).abs().groupby(hour).mean()
        label = "model" if name == "q50" else name
        fig.add_trace(go.Scatter(x=mae.index, y=mae.values, mode="lines+markers", name=label))
    fig.update_layout(
        title=f"MAE by hour of day ({timezone})",
        xaxis_title="hour",
        yaxis_title="MAE [kW]",
        height=380,
    )
    return fig


def _skill(result: BacktestResult) -> go.Figure:
    metrics = result.metrics[MODEL]
    names = list(result.baselines)
    values = [metrics.get(f"skill_vs_{n}", np.nan) for n in names]
    fig = go.Figure(go.Bar(x=names, y=values, text=[f"{v:.2f}" for v in values]))
    fig.update_layout(
        title="Skill of the model against each baseline: 1 - MAE(model) / MAE(baseline)",
        yaxis_title="skill",
        height=360,
    )
    return fig


def _table(result: BacktestResult) -> str:
    table = result.table()
    keep = [
        c for c in ("mae", "rmse", "nmae", "mase", "pinball_mean", "coverage", "n") if c in table
    ]
    shown = table[keep].copy()
    return shown.to_html(float_format=lambda v: f"{v:.3f}", na_rep="", border=0)


def write_report(result: BacktestResult, path: str | Path, timezone: str = "Europe/Berlin") -> Path:
    """Write the HTML report of a backtest; returns its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = result.settings
    figures = [_forecast_vs_actual(result), _error_by_hour(result, timezone), _skill(result)]
    parts = [
        figure.to_html(full_html=False, include_plotlyjs=(i == 0))
        for i, figure in enumerate(figures)
    ]
    start, end = result.period
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Backtest {html.escape(result.target.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{padding:4px 10px;text-align:right}} th{{background:#eee}}</style></head><body>
<h1>Backtest {html.escape(result.target.name)}</h1>
<p>Scored valid times {start.isoformat()} to {end.isoformat()}; {settings["issues"]} issues at
{html.escape(str(settings["issue_time_local"]))} local time, scoring leads from
{settings["gap_h"]} h to {settings["horizon_h"]} h; refit every {settings["refit_every_days"]} days
({html.escape(str(settings["window"]))} window).
nMAE = MAE / mean actual over the scored slots; MASE scale = in-sample MAE of the weekly seasonal
naive forecast before the first issue ({settings["mase_scale_kw"]:.3f} kW); coverage = share of
actuals inside the outermost quantile interval.</p>
{_table(result)}
{"".join(parts)}
</body></html>
"""
    out.write_text(page, encoding="utf-8")
    return out
