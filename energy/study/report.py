"""The study report: one table row per task, savings against the variant's own rule-tuned run,
cost against autarky with the Pareto front, the spec and the code version.

Writes report.html (self-contained: plotly.js inline, no CDN) and study_table.csv. Every number
comes from the tasks' summary.json files; nothing is recomputed.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from energy.study.results import read_summaries

__all__ = ["COLUMNS", "pareto_front", "study_table", "write_study_report"]

#: Table columns taken from each task's summary, in report order: (column, label).
COLUMNS = (
    ("cost_eur", "cost (EUR)"),
    ("cost_with_stored_energy_eur", "cost, stored energy valued (EUR)"),
    ("self_sufficiency_frac", "autarky"),
    ("self_consumption_frac", "self-consumption"),
    ("co2_kg", "CO2 (kg)"),
    ("comfort_violation_kh", "comfort violations (K h)"),
    ("battery_full_cycles", "battery cycles"),
)
_SAVING = "saving_vs_rule_tuned_eur"
_SAVING_FRAC = "saving_vs_rule_tuned_frac"
_KEYS = ("variant", "policy", "period", "seed")


def study_table(summaries: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per task; savings are against rule-tuned of the same variant, period and seed,
    on the cost with stored energy valued (NaN where that task is not in the study)."""
    rows = []
    for s in summaries:
        figures = s["figures"]
        rows.append(
            {
                **{k: s[k] for k in _KEYS},
                "cost_eur": figures["cost_eur"],
                "cost_with_stored_energy_eur": s["cost_with_stored_energy_eur"],
                "self_sufficiency_frac": figures["self_sufficiency_frac"],
                "self_consumption_frac": figures["self_consumption_frac"],
                "co2_kg": figures["co2_kg"],
                "comfort_violation_kh": figures["comfort_violation_kh"],
                "battery_full_cycles": figures["battery_full_cycles"],
                "task_id": s["task_id"],
            }
        )
    table = pd.DataFrame(rows, columns=[*_KEYS, *(c for c, _ in COLUMNS), "task_id"])
    for column in (
        "cost_eur",
        "cost_with_stored_energy_eur",
        "self_sufficiency_frac",
        "self_consumption_frac",
        "co2_kg",
        "comfort_violation_kh",
        "battery_full_cycles",
    ):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    reference = table[table["policy"] == "rule-tuned"].set_index(["variant", "period", "seed"])[
        "cost_with_stored_energy_eur"
    ]
    index = pd.MultiIndex.from_frame(table[["variant", "period", "seed"]])
    rule_tuned = reference.reindex(index).to_numpy()
    table[_SAVING] = rule_tuned - table["cost_with_stored_energy_eur"].to_numpy()
    table[_SAVING_FRAC] = [
        saving / abs(ref) if ref and math.isfinite(ref) else float("nan")
        for saving, ref in zip(table[_SAVING], rule_tuned, strict=True)
    ]
    return table.sort_values(list(_KEYS), kind="stable").reset_index(drop=True)


def pareto_front(table: pd.DataFrame) -> pd.Series:
    """Whether each row is on the front: no other row is at most as dear (stored energy valued)
    and at least as autarkic, and better in one of the two."""
    cost = table["cost_with_stored_energy_eur"].to_numpy()
    autarky = table["self_sufficiency_frac"].to_numpy()
    on_front = []
    for i in range(len(table)):
        dominated = any(
            cost[j] <= cost[i]
            and autarky[j] >= autarky[i]
            and (cost[j] < cost[i] or autarky[j] > autarky[i])
            for j in range(len(table))
            if j != i
        )
        on_front.append(not dominated)
    return pd.Series(on_front, index=table.index)


def _cell(column: str, value: float) -> str:
    if value is None or not math.isfinite(value):
        return '<td data-value="">n/a</td>'
    shown = f"{100 * value:.1f} %" if column.endswith("_frac") else f"{value:,.2f}"
    return f'<td data-column="{column}" data-value="{value!r}">{shown}</td>'


def _table_html(table: pd.DataFrame) -> str:
    labels = [
        *_KEYS,
        *(label for _, label in COLUMNS),
        "saving vs rule-tuned (EUR)",
        "saving vs rule-tuned",
    ]
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    rows = []
    for _, row in table.iterrows():
        keys = "".join(f"<td>{html.escape(str(row[k]))}</td>" for k in _KEYS)
        values = "".join(
            _cell(column, float(row[column]))
            for column in [*(c for c, _ in COLUMNS), _SAVING, _SAVING_FRAC]
        )
        rows.append(f'<tr data-task="{html.escape(row["task_id"])}">{keys}{values}</tr>')
    return f'<table id="study-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _pareto_chart(table: pd.DataFrame, period: str, seed: int) -> go.Figure:
    part = table[(table["period"] == period) & (table["seed"] == seed)].reset_index(drop=True)
    front = part[pareto_front(part)].sort_values("self_sufficiency_frac")
    chart = go.Figure()
    for policy, rows in part.groupby("policy", sort=False):
        chart.add_scatter(
            x=rows["self_sufficiency_frac"],
            y=rows["cost_with_stored_energy_eur"],
            mode="markers",
            name=str(policy),
            text=rows["variant"],
            hovertemplate="%{text}<br>autarky %{x:.1%}<br>%{y:.2f} EUR<extra>"
            + str(policy)
            + "</extra>",
        )
    chart.add_scatter(
        x=front["self_sufficiency_frac"],
        y=front["cost_with_stored_energy_eur"],
        mode="lines",
        name="Pareto front",
        line={"dash": "dash", "color": "#444"},
    )
    chart.update_layout(
        title=f"cost against autarky: {period}, seed {seed}",
        xaxis_title="autarky (self-sufficiency)",
        yaxis_title="cost, stored energy valued (EUR)",
        xaxis_tickformat=".0%",
        height=460,
        margin={"t": 50, "b": 50},
    )
    return chart


def render_study_html(table: pd.DataFrame, record: dict[str, Any]) -> str:
    groups = table[["period", "seed"]].drop_duplicates().itertuples(index=False)
    charts = [_pareto_chart(table, str(period), int(seed)) for period, seed in groups]
    parts = [
        pio.to_html(chart, include_plotlyjs=(i == 0), full_html=False, div_id=f"pareto-{i}")
        for i, chart in enumerate(charts)
    ]
    spec = record.get("spec", {})
    name = str(spec.get("name", "study"))
    expected = len(record.get("tasks", []))
    missing = (
        f"<p><b>{expected - len(table)} of {expected} tasks have no result yet</b>: the table "
        "shows the finished ones.</p>"
        if expected > len(table)
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Study: {html.escape(name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
td:nth-child(-n+4), th:nth-child(-n+4) {{ text-align: left; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
</style></head><body>
<h1>Study: {html.escape(name)}</h1>
<p>Closed-loop evaluations on the simulated district, one per variant, policy, period and seed.
Costs from the simulated grid meter times the tariff; "stored energy valued" adds what the change
in stored energy is worth after the period. Savings are against the same variant's rule-tuned
policy (the devices' own controllers with the thermostat a commissioning sweep chose).</p>
{missing}
<h2>Results</h2>{_table_html(table)}
<h2>Cost against autarky</h2>{"".join(parts)}
<h2>Spec</h2><pre id="spec">{html.escape(json.dumps(spec, indent=2))}</pre>
<h2>Code version</h2><p id="code-version">{html.escape(str(record.get("code_version", "unknown")))}</p>
</body></html>
"""


def write_study_report(out_dir: Path) -> list[Path]:
    """report.html and study_table.csv from the finished tasks in out_dir."""
    record_path = out_dir / "study.json"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileNotFoundError(
            f"{record_path}: expected a study directory (run `kv study run` first)"
        ) from exc
    # results of tasks a later spec dropped or changed stay on disk but are not this study's
    wanted = record.get("tasks", {})
    summaries = [s for s in read_summaries(out_dir) if wanted.get(s["task_id"]) == s["fingerprint"]]
    if not summaries:
        raise ValueError(f"{out_dir / 'tasks'}: expected finished tasks; found none")
    table = study_table(summaries)
    csv_path = out_dir / "study_table.csv"
    table.to_csv(csv_path, index=False)
    html_path = out_dir / "report.html"
    html_path.write_text(render_study_html(table, record), encoding="utf-8")
    return [html_path, csv_path]
