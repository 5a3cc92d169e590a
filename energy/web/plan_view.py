"""What the plan page shows: charts (Plotly figures as JSON) and tables, built from the store.

The x axis of every chart is categorical with one label per slot in local time with its UTC offset
(see localtime.py): a plan across the autumn DST change shows all 100 quarter hours of that day, the
repeated hour once with +02:00 and once with +01:00. Quantities missing from a plan are skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from energy.site import AssetKind, Site
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, diff_plans, read_plan_values
from energy.web.localtime import format_local, local_labels
from energy.web.queries import measured_slots

__all__ = ["ChartSpec", "PlanView", "build_plan_view", "change_unit", "diff_summary"]

GRID = "grid"


@dataclass
class ChartSpec:
    id: str
    title: str
    figure: str
    """Plotly figure as JSON."""


@dataclass
class PlanView:
    plan: PlanRecord
    slot_labels: list[str]
    charts: list[ChartSpec]
    cost_breakdown: list[tuple[str, float]]
    cost_total_eur: float | None
    violations: list[dict[str, Any]]
    details: list[tuple[str, str]]
    reference: PlanRecord | None
    diff: list[dict[str, Any]] = field(default_factory=list)


def _layout(title: str, y_title: str) -> dict[str, Any]:
    """The figure keeps its title as metadata (the page shows it as a heading), legend on top."""
    return {
        "title": {"text": title, "font": {"size": 1, "color": "rgba(0,0,0,0)"}},
        "margin": {"l": 60, "r": 10, "t": 10, "b": 10},
        "height": 300,
        "xaxis": {"type": "category", "tickangle": -45, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "zeroline": True, "automargin": True},
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": 10},
        },
        "hovermode": "x unified",
        "template": "plotly_white",
        "font": {"family": "system-ui, sans-serif", "size": 11},
    }


def _ticks(labels: dict[pd.Timestamp, str], tz: ZoneInfo) -> tuple[list[str], list[str]]:
    """Axis ticks on whole local hours, short text with the UTC offset.

    At most about twelve regular ticks; the whole hours on either side of a DST change always get
    one, so the autumn day shows "02:00 +02" and then "02:00 +01". The category values stay the full
    labels (hover text); a local day's first tick carries the date.
    """
    hour = pd.Timedelta(hours=1)
    step_hours = max(1, -(-len(labels) // 48))
    values: list[str] = []
    texts: list[str] = []
    for slot, label in labels.items():
        local = slot.tz_convert(tz)
        if local.minute != 0:
            continue
        offset = local.utcoffset()
        at_change = (slot + hour).tz_convert(tz).utcoffset() != offset or (slot - hour).tz_convert(
            tz
        ).utcoffset() != offset
        if local.hour % step_hours != 0 and not at_change:
            continue
        text = local.strftime("%H:%M %z")[:-2]
        if local.hour == 0 or not values:
            text = local.strftime("%d.%m. ") + text
        values.append(label)
        texts.append(text)
    return values, texts


def _series_on(
    values: pd.DataFrame, labels: dict[pd.Timestamp, str], asset_id: str, quantity: str
) -> tuple[list[str], list[float]] | None:
    rows = values[(values["asset_id"] == asset_id) & (values["quantity"] == quantity)]
    rows = rows[rows["slot_start"].isin(labels.keys())]
    if rows.empty:
        return None
    return [labels[t] for t in rows["slot_start"]], rows["value"].astype(float).tolist()


def _asset_chart(
    title: str,
    y_title: str,
    asset_ids: list[str],
    plan_quantity: str,
    measured_quantity: str,
    planned: pd.DataFrame,
    measured: pd.DataFrame,
    labels: dict[pd.Timestamp, str],
    scale: float = 1.0,
) -> go.Figure | None:
    figure = go.Figure(layout=_layout(title, y_title))
    palette = qualitative.D3 + qualitative.Set2
    for index, asset_id in enumerate(asset_ids):
        colour = palette[index % len(palette)]
        plan_series = _series_on(planned, labels, asset_id, plan_quantity)
        if plan_series is not None:
            figure.add_trace(
                go.Scatter(
                    x=plan_series[0],
                    y=[v * scale for v in plan_series[1]],
                    name=f"{asset_id} plan",
                    line={"color": colour, "shape": "hv", "width": 1.6},
                    legendgroup=asset_id,
                )
            )
        measured_series = _series_on(measured, labels, asset_id, measured_quantity)
        if measured_series is not None:
            figure.add_trace(
                go.Scatter(
                    x=measured_series[0],
                    y=[v * scale for v in measured_series[1]],
                    name=f"{asset_id} measured",
                    line={"color": colour, "dash": "dot", "width": 1.4},
                    legendgroup=asset_id,
                )
            )
    if not figure.data:
        return None
    return figure


def _limit_line(figure: go.Figure, x: list[str], level: float, name: str) -> None:
    figure.add_trace(
        go.Scatter(
            x=x,
            y=[level] * len(x),
            name=name,
            mode="lines",
            line={"color": "#c0392b", "dash": "dash", "width": 1},
        )
    )


def _price_chart(planned: pd.DataFrame, labels: dict[pd.Timestamp, str]) -> go.Figure | None:
    figure = go.Figure(layout=_layout("Prices", "EUR/kWh"))
    for quantity, name in (
        ("price_import_eur_per_kwh", "import price"),
        ("price_export_eur_per_kwh", "export price"),
    ):
        series = _series_on(planned, labels, GRID, quantity)
        if series is not None:
            figure.add_trace(go.Scatter(x=series[0], y=series[1], name=name, line={"shape": "hv"}))
    return figure if figure.data else None


def _grid_chart(
    site: Site, planned: pd.DataFrame, measured: pd.DataFrame, labels: dict[pd.Timestamp, str]
) -> go.Figure | None:
    title = "Grid exchange (import +, export −)"
    figure = go.Figure(layout=_layout(title, "kW"))
    imports = _series_on(planned, labels, GRID, "import_kw")
    exports = _series_on(planned, labels, GRID, "export_kw")
    if imports is not None:
        figure.add_trace(
            go.Scatter(x=imports[0], y=imports[1], name="import plan", line={"shape": "hv"})
        )
    if exports is not None:
        figure.add_trace(
            go.Scatter(
                x=exports[0], y=[-v for v in exports[1]], name="export plan", line={"shape": "hv"}
            )
        )
    net = _series_on(measured, labels, "grid.meter", "power_kw")
    if net is not None:
        figure.add_trace(go.Scatter(x=net[0], y=net[1], name="measured net", line={"dash": "dot"}))
    if not figure.data:
        return None
    x = list(labels.values())
    grid = site.config.grid
    export_limit = min(grid.export_limit_kw, grid.feed_in_limit_kw or grid.export_limit_kw)
    _limit_line(figure, x, grid.import_limit_kw, f"import limit {grid.import_limit_kw:g} kW")
    _limit_line(figure, x, -export_limit, f"export limit {export_limit:g} kW")
    return figure


def _ids(site: Site, kind: AssetKind, planned: pd.DataFrame) -> list[str]:
    in_plan = set(planned["asset_id"])
    return [a.id for a in site.of_kind(kind) if a.id in in_plan]


def _plan_charts(
    site: Site, planned: pd.DataFrame, measured: pd.DataFrame, labels: dict[pd.Timestamp, str]
) -> list[ChartSpec]:
    builders: list[tuple[str, Callable[[], go.Figure | None]]] = [
        ("prices", lambda: _price_chart(planned, labels)),
        ("grid", lambda: _grid_chart(site, planned, measured, labels)),
        (
            "battery-power",
            lambda: _asset_chart(
                "Battery power (charging +)",
                "kW",
                _ids(site, AssetKind.BATTERY, planned),
                "power_kw",
                "power_kw",
                planned,
                measured,
                labels,
            ),
        ),
        (
            "battery-soc",
            lambda: _asset_chart(
                "Battery state of charge",
                "%",
                _ids(site, AssetKind.BATTERY, planned),
                "soc_frac",
                "soc_frac",
                planned,
                measured,
                labels,
                scale=100.0,
            ),
        ),
        (
            "hp-power",
            lambda: _asset_chart(
                "Heat pump electric power",
                "kW",
                _ids(site, AssetKind.HEAT_PUMP, planned),
                "power_kw",
                "power_kw",
                planned,
                measured,
                labels,
            ),
        ),
        (
            "tank-temp",
            lambda: _asset_chart(
                "Tank temperature",
                "°C",
                _ids(site, AssetKind.TANK, planned),
                "tank_temp_c",
                "tank_temp_c",
                planned,
                measured,
                labels,
            ),
        ),
        (
            "pv",
            lambda: _asset_chart(
                "PV power",
                "kW",
                _ids(site, AssetKind.PV, planned),
                "pv_kw",
                "power_kw",
                planned,
                measured,
                labels,
            ),
        ),
    ]
    ticks = _ticks(labels, site.tz)
    charts = []
    for chart_id, build in builders:
        figure = build()
        if figure is not None:
            figure.update_xaxes(tickmode="array", tickvals=ticks[0], ticktext=ticks[1])
            charts.append(ChartSpec(chart_id, figure.layout.title.text, figure.to_json()))
    return charts


def _measured_keys(site: Site, planned: pd.DataFrame) -> list[tuple[str, str]]:
    keys = [("grid.meter", "power_kw")]
    for asset_id, quantity in (
        planned[["asset_id", "quantity"]].drop_duplicates().itertuples(index=False, name=None)
    ):
        if asset_id == GRID:
            continue
        keys.append((asset_id, "power_kw" if quantity == "pv_kw" else quantity))
    return sorted(set(keys))


_CHANGE_UNITS = (
    ("_eur_per_kwh", "EUR/kWh"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_frac", "(0..1)"),
    ("_c", "K"),
)


def change_unit(quantity: str) -> str:
    """The unit of a change of a quantity, from the unit in its name (a temperature change is K)."""
    for suffix, unit in _CHANGE_UNITS:
        if quantity.endswith(suffix):
            return unit
    return ""


def diff_summary(store: Store, plan_id: int, reference_id: int) -> list[dict[str, Any]]:
    """Per asset and quantity: slots compared, largest and mean change against the reference."""
    diff = diff_plans(store, plan_id, reference_id)
    if diff.empty:
        return []
    diff["abs_change"] = diff["change"].abs()
    grouped = diff.groupby(["asset_id", "quantity"], sort=True)
    rows = []
    for (asset_id, quantity), group in grouped:
        worst = group.loc[group["abs_change"].idxmax()]
        rows.append(
            {
                "asset_id": asset_id,
                "quantity": quantity,
                "unit": change_unit(str(quantity)),
                "slots": len(group),
                "slots_changed": int((group["abs_change"] > 1e-9).sum()),
                "max_abs_change": float(worst["abs_change"]),
                "max_change_at": worst["slot_start"].to_pydatetime(),
                "mean_change": float(group["change"].mean()),
            }
        )
    return rows


def _violation_rows(summary: dict[str, Any], site: Site) -> list[dict[str, Any]]:
    rows = []
    items = summary.get("violations")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        when = item.get("slot_start")
        try:
            local = format_local(pd.Timestamp(when), site.tz) if when else "-"
        except (ValueError, TypeError):
            local = str(when)
        rows.append({**item, "slot_local": local})
    return rows


def _details(plan: PlanRecord) -> list[tuple[str, str]]:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f} s"

    details = [
        ("solver status", plan.solver_status),
        ("termination", plan.termination or "-"),
        ("fallback", plan.fallback),
        ("MIP gap", "-" if plan.mip_gap is None else f"{plan.mip_gap:.4%}"),
        (
            "build / solve / extract",
            " / ".join(
                seconds(v) for v in (plan.build_seconds, plan.solve_seconds, plan.extract_seconds)
            ),
        ),
    ]
    for key, value in plan.summary.items():
        if key in ("cost_breakdown", "violations"):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        details.append((key, text if len(text) <= 400 else text[:400] + " …"))
    return details


def build_plan_view(site: Site, store: Store, plan: PlanRecord, now: dt.datetime) -> PlanView:
    planned = read_plan_values(store, plan.id)
    slots = sorted(planned["slot_start"].unique()) if not planned.empty else []
    slots = [pd.Timestamp(t) for t in slots]
    labels = dict(zip(slots, local_labels(slots, site.tz), strict=True))
    measured_end = min(plan.horizon_end, now)
    if plan.horizon_start < measured_end and not planned.empty:
        measured = measured_slots(
            store,
            site.id,
            _measured_keys(site, planned),
            plan.horizon_start,
            measured_end,
            plan.slot_minutes,
        )
    else:
        measured = pd.DataFrame(columns=["asset_id", "quantity", "slot_start", "value"])
    charts = _plan_charts(site, planned, measured, labels) if slots else []
    breakdown_raw = plan.summary.get("cost_breakdown")
    if not isinstance(breakdown_raw, dict):
        breakdown_raw = {}
    breakdown = [(str(k), float(v)) for k, v in breakdown_raw.items() if isinstance(v, int | float)]
    reference = active_plan(store, site.id, now)
    if reference is not None and reference.id == plan.id:
        reference = None
    return PlanView(
        plan=plan,
        slot_labels=list(labels.values()),
        charts=charts,
        cost_breakdown=breakdown,
        cost_total_eur=sum(v for _, v in breakdown) if breakdown else plan.objective_eur,
        violations=_violation_rows(plan.summary, site),
        details=_details(plan),
        reference=reference,
        diff=diff_summary(store, plan.id, reference.id) if reference is not None else [],
    )
