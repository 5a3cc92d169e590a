"""What the plan page shows: charts (Plotly figures as JSON) and tables, built from the store.

The x axis of every chart is categorical with one label per slot in local time with its UTC offset
(see localtime.py): a plan across the autumn DST change shows all 100 quarter hours of that day, the
repeated hour once with +02:00 and once with +01:00. Quantities missing from a plan are skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from energy.site import Asset, AssetKind, Site
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, diff_plans, read_plan_values
from energy.tariff import TariffSeriesError, tariff_series
from energy.web.localtime import format_local, local_labels
from energy.web.queries import measured_slots

__all__ = ["ChartSpec", "PlanView", "build_plan_view", "change_unit", "diff_summary"]

log = logging.getLogger(__name__)

GRID = "grid"
GRID_COLOUR = "#e6e9ee"
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


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
    cost_breakdown: list[tuple[str, float, str]]
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
        "xaxis": {
            "type": "category",
            "tickangle": -45,
            "automargin": True,
            "gridcolor": GRID_COLOUR,
        },
        "yaxis": {
            "title": {"text": y_title},
            "zeroline": True,
            "zerolinecolor": "#b8bec6",
            "gridcolor": GRID_COLOUR,
            "automargin": True,
        },
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": 10},
        },
        "hovermode": "x unified",
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
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


Series = dict[tuple[str, str], tuple[list[str], list[float]]]
"""(asset_id, quantity) -> (slot labels, values) of the slots a chart shows."""


END_OF_SLOT = ("_end_frac", "_end_c", "_end_kwh")
"""Quantities the optimizer reports at the end of a slot (soc_end_frac, temp_end_c, ...)."""


def _series(values: pd.DataFrame, labels: dict[pd.Timestamp, str], slot: pd.Timedelta) -> Series:
    """Per (asset, quantity) the values on the chart's categories. A value at a slot's end is
    placed at the next slot's start (the horizon end has a category of its own)."""
    out: Series = {}
    for (asset_id, quantity), group in values.groupby(["asset_id", "quantity"], sort=False):
        times = group["slot_start"]
        if str(quantity).endswith(END_OF_SLOT):
            times = times + slot
        shown = times.isin(labels.keys())
        out[(str(asset_id), str(quantity))] = (
            [labels[t] for t in times[shown]],
            group["value"][shown].astype(float).tolist(),
        )
    return out


def _first(series: Series, keys: list[tuple[str, str]]) -> tuple[list[str], list[float]] | None:
    return next((series[k] for k in keys if k in series), None)


class _Chart:
    """A Plotly figure as plain data (plotly.js draws it; no server-side figure validation)."""

    def __init__(self, title: str, y_title: str) -> None:
        self.title = title
        self.layout = _layout(title, y_title)
        self.traces: list[dict[str, Any]] = []

    def add(self, x: list[str], y: list[float], name: str, **line: Any) -> None:
        self.traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": [v if math.isfinite(v) else None for v in y],
                "name": name,
                "line": line,
            }
        )

    def to_json(self, ticks: tuple[list[str], list[str]]) -> str:
        layout = {
            **self.layout,
            "xaxis": {**self.layout["xaxis"], "tickmode": "array", "tickvals": ticks[0]}
            | {"ticktext": ticks[1]},
        }
        return json.dumps({"data": self.traces, "layout": layout}, allow_nan=False)


@dataclass(frozen=True)
class _Panel:
    """One per-asset chart: which assets, which planned and measured quantities (first found)."""

    id: str
    title: str
    y_title: str
    kind: AssetKind
    planned: tuple[str, ...]
    measured: tuple[str, ...]
    scale: float = 1.0

    def planned_keys(self, asset: Asset) -> list[tuple[str, str]]:
        return [(asset.id, q) for q in self.planned]

    def measured_keys(self, asset: Asset) -> list[tuple[str, str]]:
        keys = [(asset.id, q) for q in self.measured]
        if asset.kind is AssetKind.TANK and asset.house_id:
            # the heat pump's controller measures its tank
            keys += [(f"{asset.house_id}.hp", q) for q in self.measured]
        return keys


PANELS = (
    _Panel(
        "battery-power",
        "Battery power (charging +)",
        "kW",
        AssetKind.BATTERY,
        ("power_kw",),
        ("power_kw",),
    ),
    _Panel(
        "battery-soc",
        "Battery state of charge",
        "%",
        AssetKind.BATTERY,
        ("soc_frac", "soc_end_frac"),
        ("soc_frac",),
        100.0,
    ),
    _Panel(
        "hp-power",
        "Heat pump electric power",
        "kW",
        AssetKind.HEAT_PUMP,
        ("power_kw",),
        ("power_kw",),
    ),
    _Panel(
        "tank-temp",
        "Tank temperature",
        "°C",
        AssetKind.TANK,
        ("tank_temp_c", "temp_end_c"),
        ("tank_temp_c",),
    ),
    _Panel("pv", "PV power", "kW", AssetKind.PV, ("pv_kw", "power_kw"), ("power_kw",)),
)


def _asset_chart(site: Site, panel: _Panel, planned: Series, measured: Series) -> _Chart | None:
    chart = _Chart(panel.title, panel.y_title)
    assets = [a for a in site.of_kind(panel.kind) if _first(planned, panel.planned_keys(a))]
    for index, asset in enumerate(assets):
        colour = PALETTE[index % len(PALETTE)]
        plan_series = _first(planned, panel.planned_keys(asset))
        if plan_series is not None:
            chart.add(
                plan_series[0],
                [v * panel.scale for v in plan_series[1]],
                f"{asset.id} plan",
                color=colour,
                shape="hv",
                width=1.6,
            )
        measured_series = _first(measured, panel.measured_keys(asset))
        if measured_series is not None:
            chart.add(
                measured_series[0],
                [v * panel.scale for v in measured_series[1]],
                f"{asset.id} measured",
                color=colour,
                dash="dot",
                width=1.4,
            )
    return chart if chart.traces else None


def _price_chart(planned: Series) -> _Chart | None:
    chart = _Chart("Prices", "EUR/kWh")
    for quantity, name in (
        ("price_import_eur_per_kwh", "import price"),
        ("price_export_eur_per_kwh", "export price"),
    ):
        series = planned.get((GRID, quantity))
        if series is not None:
            chart.add(series[0], series[1], name, shape="hv")
    return chart if chart.traces else None


def _grid_chart(
    site: Site, planned: Series, measured: Series, labels: dict[pd.Timestamp, str]
) -> _Chart | None:
    chart = _Chart("Grid exchange (import +, export −)", "kW")
    imports = planned.get((GRID, "import_kw"))
    exports = planned.get((GRID, "export_kw"))
    if imports is not None:
        chart.add(imports[0], imports[1], "import plan", shape="hv")
    if exports is not None:
        chart.add(exports[0], [-v for v in exports[1]], "export plan", shape="hv")
    net = measured.get(("grid.meter", "power_kw"))
    if net is not None:
        chart.add(net[0], net[1], "measured net", dash="dot")
    if not chart.traces:
        return None
    x = list(labels.values())
    grid = site.config.grid
    export_limit = min(grid.export_limit_kw, grid.feed_in_limit_kw or grid.export_limit_kw)
    limit_style = {"color": "#c0392b", "dash": "dash", "width": 1}
    chart.add(
        x,
        [grid.import_limit_kw] * len(x),
        f"import limit {grid.import_limit_kw:g} kW",
        **limit_style,
    )
    chart.add(x, [-export_limit] * len(x), f"export limit {export_limit:g} kW", **limit_style)
    return chart


def _plan_charts(
    site: Site,
    planned_frame: pd.DataFrame,
    measured_frame: pd.DataFrame,
    labels: dict[pd.Timestamp, str],
    slot: pd.Timedelta,
) -> list[ChartSpec]:
    planned = _series(planned_frame, labels, slot)
    measured = _series(measured_frame, labels, slot)
    charts: list[tuple[str, _Chart | None]] = [
        ("prices", _price_chart(planned)),
        ("grid", _grid_chart(site, planned, measured, labels)),
    ]
    charts += [(panel.id, _asset_chart(site, panel, planned, measured)) for panel in PANELS]
    ticks = _ticks(labels, site.tz)
    return [
        ChartSpec(chart_id, chart.title, chart.to_json(ticks))
        for chart_id, chart in charts
        if chart is not None
    ]


def _measured_keys(site: Site) -> list[tuple[str, str]]:
    keys = {("grid.meter", "power_kw")}
    for panel in PANELS:
        for asset in site.of_kind(panel.kind):
            keys.update(panel.measured_keys(asset))
    return sorted(keys)


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


def _local_or_text(value: Any, site: Site) -> str:
    try:
        return format_local(pd.Timestamp(value), site.tz)
    except (ValueError, TypeError):
        return str(value)


def _violation_rows(summary: dict[str, Any], site: Site) -> list[dict[str, Any]]:
    """Violations as the optimizer reports them (limit, asset_id, first_slot, last_slot, n_slots,
    max_amount, unit, detail) or in the short form (slot_start, amount); times in local time."""
    rows = []
    items = summary.get("violations")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        first = item.get("first_slot", item.get("slot_start"))
        last = item.get("last_slot")
        when = _local_or_text(first, site) if first else "-"
        if last and last != first:
            when += " – " + _local_or_text(last, site)
        rows.append(
            {
                "limit": item.get("limit", "-"),
                "asset_id": item.get("asset_id", "-"),
                "slot_local": when,
                "slots": item.get("n_slots", 1),
                "amount": item.get("max_amount", item.get("amount")),
                "unit": item.get("unit", ""),
                "detail": item.get("detail", ""),
            }
        )
    return rows


_BREAKDOWN_UNITS = (("_eur", "EUR"), ("_kwh", "kWh"), ("_kw", "kW"), ("_kg", "kg"), ("_g", "g"))


def _breakdown(summary: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(item, value, unit) with the unit from the item's name; a name without one is EUR."""
    raw = summary.get("cost_breakdown")
    if not isinstance(raw, dict):
        return []
    rows = []
    for name, value in raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        unit = next((u for suffix, u in _BREAKDOWN_UNITS if str(name).endswith(suffix)), "EUR")
        rows.append((str(name), float(value), unit))
    return rows


def _with_tariff_prices(
    site: Site, planned: pd.DataFrame, slots: list[pd.Timestamp]
) -> pd.DataFrame:
    """The plan's values plus the tariff's prices per slot when the plan does not carry them."""
    if not slots or (planned["quantity"] == "price_import_eur_per_kwh").any():
        return planned
    try:
        prices = tariff_series(site.config, pd.DatetimeIndex(slots)).frame()
    except (TariffSeriesError, OSError, ValueError) as exc:
        log.warning("plan page: no tariff prices for the plan's slots: %s", exc)
        return planned
    rows = [
        pd.DataFrame(
            {
                "asset_id": GRID,
                "quantity": column,
                "slot_start": prices.index,
                "value": prices[column],
            }
        )
        for column in ("price_import_eur_per_kwh", "price_export_eur_per_kwh")
    ]
    return pd.concat([planned, *rows], ignore_index=True)


_SHOWN_ELSEWHERE = frozenset(
    {
        "cost_breakdown",
        "violations",
        "status",
        "model_status",
        "objective_eur",
        "mip_gap",
        "build_seconds",
        "solve_seconds",
        "extract_seconds",
        "horizon_start",
        "horizon_end",
    }
)


def _detail_text(value: Any, tz: ZoneInfo) -> str:
    """A summary value for the table: times in local time, numbers to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            stamp = pd.Timestamp(value)
        except ValueError:
            return value
        return format_local(stamp, tz) if stamp.tzinfo is not None else value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 400 else text[:400] + " …"


def _details(plan: PlanRecord, tz: ZoneInfo) -> list[tuple[str, str]]:
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
    details += [
        (key, _detail_text(value, tz))
        for key, value in plan.summary.items()
        if key not in _SHOWN_ELSEWHERE
    ]
    return details


def build_plan_view(site: Site, store: Store, plan: PlanRecord, now: dt.datetime) -> PlanView:
    planned = read_plan_values(store, plan.id)
    slots = [pd.Timestamp(t) for t in sorted(planned["slot_start"].unique())]
    slot = pd.Timedelta(minutes=plan.slot_minutes)
    labels = dict(zip(slots, local_labels(slots, site.tz), strict=True))
    if slots:
        # the horizon's end: where the last end-of-slot values (SoC, tank temperature) sit
        labels[slots[-1] + slot] = format_local(slots[-1] + slot, site.tz)
    measured_end = min(plan.horizon_end, now)
    if plan.horizon_start < measured_end and slots:
        measured = measured_slots(
            store,
            site.id,
            _measured_keys(site),
            plan.horizon_start,
            measured_end,
            plan.slot_minutes,
        )
    else:
        measured = pd.DataFrame(columns=["asset_id", "quantity", "slot_start", "value"])
    planned = _with_tariff_prices(site, planned, slots)
    charts = _plan_charts(site, planned, measured, labels, slot) if slots else []
    breakdown = _breakdown(plan.summary)
    euro_items = [v for _, v, unit in breakdown if unit == "EUR"]
    if plan.objective_eur is not None:
        total: float | None = plan.objective_eur
    else:
        total = sum(euro_items) if euro_items else None
    reference = active_plan(store, site.id, now)
    if reference is not None and reference.id == plan.id:
        reference = None
    return PlanView(
        plan=plan,
        slot_labels=[labels[t] for t in slots],
        charts=charts,
        cost_breakdown=breakdown,
        cost_total_eur=total,
        violations=_violation_rows(plan.summary, site),
        details=_details(plan, site.tz),
        reference=reference,
        diff=diff_summary(store, plan.id, reference.id) if reference is not None else [],
    )
