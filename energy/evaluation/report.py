"""Files of an evaluation: per-slot CSVs, totals and monthly CSVs, summary.json and report.html.

report.html is self-contained (plotly.js inline from the installed package, no CDN), so it opens
offline and can be mailed as one file.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from energy.config import SiteConfig
from energy.evaluation.closed_loop import PolicyRun
from energy.evaluation.metrics import (
    FIGURES,
    comparison,
    monthly_figures,
    run_summary,
    slot_frame,
)

__all__ = ["EvaluationReport", "build_report", "plain_json", "write_report"]

_COLOURS = {
    "rule": "#7f7f7f",
    "rule-tuned": "#ff7f0e",
    "mpc": "#1f77b4",
    "perfect-forecast": "#9467bd",
    "oracle": "#2ca02c",
}
#: Figures of the comparison lifted to the top level of summary.json.
_HEADLINE = ("mpc_saving_vs_rule_tuned_frac", "mpc_capture_of_oracle_saving_frac")
_LABELS = {
    "cost_eur": "cost (EUR)",
    "import_cost_eur": "import cost (EUR)",
    "export_revenue_eur": "export revenue (EUR)",
    "peak_charge_eur": "peak charge (EUR)",
    "grid_import_kwh": "grid import (kWh)",
    "grid_export_kwh": "grid export (kWh)",
    "peak_import_kw": "peak import, 15-min (kW)",
    "self_sufficiency_frac": "self-sufficiency",
    "self_consumption_frac": "self-consumption",
    "co2_kg": "CO2 (kg)",
    "comfort_violation_kh": "comfort violations (K h below tank minimum)",
    "unserved_heat_kwh": "unserved heat (kWh)",
    "ev_short_kwh": "EV energy short at departure (kWh)",
    "battery_full_cycles": "battery full-cycle equivalents",
    "pv_curtailed_kwh": "PV curtailed (kWh)",
    "load_kwh": "household load (kWh)",
    "hp_electric_kwh": "heat pump electricity (kWh)",
    "ev_charging_kwh": "EV charging (kWh)",
    "pv_kwh": "PV generation (kWh)",
}


class EvaluationReport:
    """Everything computed from the runs: per-slot frames, monthly table, summary."""

    def __init__(
        self,
        config: SiteConfig,
        runs: Mapping[str, PolicyRun],
        meta: Mapping[str, Any],
    ):
        self.config = config
        self.runs = dict(runs)
        self.slots = {p: slot_frame(config, r) for p, r in self.runs.items()}
        self.monthly = pd.concat(
            [monthly_figures(config, r, self.slots[p]) for p, r in self.runs.items()],
            ignore_index=True,
        )
        summaries = {p: run_summary(config, r, self.slots[p]) for p, r in self.runs.items()}
        compared = comparison(summaries)
        self.summary: dict[str, Any] = {
            **meta,
            **{name: compared[name] for name in _HEADLINE if name in compared},
            "policies": summaries,
            "comparison": compared,
        }

    def totals(self) -> pd.DataFrame:
        """One row per policy with the period's figures."""
        rows = [{"policy": p, **s["figures"]} for p, s in self.summary["policies"].items()]
        return pd.DataFrame(rows, columns=["policy", *FIGURES])


def build_report(
    config: SiteConfig, runs: Mapping[str, PolicyRun], meta: Mapping[str, Any]
) -> EvaluationReport:
    return EvaluationReport(config, runs, meta)


def write_report(report: EvaluationReport, out_dir: Path, per_slot: bool = True) -> list[Path]:
    """Write the report's files into out_dir (created); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if per_slot:
        for policy, frame in report.slots.items():
            path = out_dir / f"slots_{policy}.csv"
            frame.to_csv(path, date_format="%Y-%m-%dT%H:%M:%S%z")
            written.append(path)
    path = out_dir / "monthly.csv"
    report.monthly.to_csv(path, index=False)
    written.append(path)
    path = out_dir / "totals.csv"
    report.totals().to_csv(path, index=False)
    written.append(path)
    path = out_dir / "summary.json"
    path.write_text(json.dumps(plain_json(report.summary), indent=2) + "\n", encoding="utf-8")
    written.append(path)
    path = out_dir / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    written.append(path)
    return written


def plain_json(value: Any) -> Any:
    """JSON-ready: NaN and infinity become null, numpy scalars plain numbers."""
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _format(name: str, value: float) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if name.endswith("_frac"):
        return f"{100 * value:.1f} %"
    if name == "battery_full_cycles":
        return f"{value:.1f}"
    return f"{value:,.1f}"


def _totals_table(report: EvaluationReport) -> str:
    policies = list(report.summary["policies"])
    head = "".join(f"<th>{html.escape(p)}</th>" for p in policies)
    rows = []
    for name in FIGURES:
        cells = "".join(
            f"<td>{_format(name, report.summary['policies'][p]['figures'][name])}</td>"
            for p in policies
        )
        rows.append(f"<tr><th>{html.escape(_LABELS[name])}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _comparison_html(report: EvaluationReport) -> str:
    comp = report.summary["comparison"]
    items = []
    for reference in ("rule", "rule_tuned"):
        for policy, saving in comp.get(f"saving_vs_{reference}_eur", {}).items():
            items.append(
                f"<li>{html.escape(policy)} saves {saving:,.1f} EUR against "
                f"{reference.replace('_', '-')} (stored energy valued)</li>"
            )
    setpoint = report.summary.get("rule_tuned", {}).get("thermostat_setpoint_c")
    if "rule_tuned" in report.summary:
        chosen = "as shipped" if setpoint is None else f"{setpoint:g} °C"
        items.append(f"<li>rule-tuned thermostat setpoint: {html.escape(chosen)}</li>")
    for name, text in (
        ("mpc_saving_vs_rule_tuned_frac", "mpc is cheaper than rule-tuned by"),
        ("mpc_capture_of_oracle_saving_frac", "mpc captures of the oracle's saving"),
    ):
        if name in comp:
            value = comp[name]
            shown = "n/a" if value is None else f"{100 * value:.1f} %"
            items.append(f"<li>{text} {shown}</li>")
    if "bound_eur" in report.summary:
        items.append(
            f"<li>lower bound {report.summary['bound_eur']:,.1f} EUR with stored energy valued "
            f"({html.escape(report.summary['bound_relaxes'])})</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _monthly_chart(report: EvaluationReport, figure: str, title: str) -> go.Figure:
    chart = go.Figure()
    for policy, part in report.monthly.groupby("policy", sort=False):
        chart.add_bar(
            x=part["month"],
            y=part[figure],
            name=str(policy),
            marker_color=_COLOURS.get(str(policy)),
        )
    chart.update_layout(title=title, barmode="group", height=360, margin={"t": 50, "b": 40})
    return chart


def _cumulative_cost_chart(report: EvaluationReport) -> go.Figure:
    chart = go.Figure()
    for policy, frame in report.slots.items():
        cost = (frame["import_cost_eur"] - frame["export_revenue_eur"]).cumsum()
        daily = cost.resample("D").last()
        chart.add_scatter(
            x=daily.index, y=daily, name=policy, mode="lines", line_color=_COLOURS.get(policy)
        )
    chart.update_layout(title="cumulative energy cost (EUR)", height=360, margin={"t": 50, "b": 40})
    return chart


def _cumulative_saving_chart(report: EvaluationReport) -> go.Figure | None:
    """Each policy's cumulative saving against rule-tuned, else rule (None without either)."""
    reference = next((p for p in ("rule-tuned", "rule") if p in report.slots), None)
    if reference is None:
        return None
    rule = report.slots[reference]
    rule_cost = (rule["import_cost_eur"] - rule["export_revenue_eur"]).cumsum()
    chart = go.Figure()
    for policy, frame in report.slots.items():
        if policy == reference:
            continue
        cost = (frame["import_cost_eur"] - frame["export_revenue_eur"]).cumsum()
        daily = (rule_cost - cost).resample("D").last()
        chart.add_scatter(
            x=daily.index, y=daily, name=policy, mode="lines", line_color=_COLOURS.get(policy)
        )
    chart.update_layout(
        title=f"cumulative saving against {reference} (EUR)",
        height=360,
        margin={"t": 50, "b": 40},
    )
    return chart


def render_html(report: EvaluationReport) -> str:
    saving = _cumulative_saving_chart(report)
    charts = [
        *([saving] if saving is not None else []),
        _cumulative_cost_chart(report),
        _monthly_chart(report, "cost_eur", "cost per month (EUR)"),
        _monthly_chart(report, "grid_import_kwh", "grid import per month (kWh)"),
        _monthly_chart(report, "grid_export_kwh", "grid export per month (kWh)"),
        _monthly_chart(report, "self_sufficiency_frac", "self-sufficiency per month"),
        _monthly_chart(report, "peak_import_kw", "peak import per month (kW)"),
        _monthly_chart(report, "co2_kg", "CO2 per month (kg)"),
        _monthly_chart(report, "comfort_violation_kh", "comfort violations per month (K h)"),
        _monthly_chart(report, "battery_full_cycles", "battery full-cycle equivalents per month"),
    ]
    parts = [
        pio.to_html(chart, include_plotlyjs=(i == 0), full_html=False)
        for i, chart in enumerate(charts)
    ]
    summary = report.summary
    notes = "".join(
        f"<li><b>{html.escape(p)}</b>: {html.escape('; '.join(s['notes']))}</li>"
        for p, s in summary["policies"].items()
    )
    title = f"Closed-loop evaluation: {summary.get('site', '')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }}
th:first-child {{ text-align: left; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Period {html.escape(str(summary.get("start")))} to {html.escape(str(summary.get("end")))}
(UTC, end exclusive). Cost and CO2 from the simulated grid meter per slot times the tariff
series; never from a plan.</p>
<h2>Period totals</h2>{_totals_table(report)}
<h2>Comparison</h2>{_comparison_html(report)}
<h2>Policies</h2><ul>{notes}</ul>
<h2>Charts</h2>{"".join(parts)}
</body></html>
"""
