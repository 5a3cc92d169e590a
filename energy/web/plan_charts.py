"""The plan page's charts: Plotly figures as plain JSON (plotly.js draws them in the browser).

The x axis of every chart is categorical with one label per slot in local time with its UTC offset
(see localtime.py): a plan across the autumn DST change shows all 100 quarter hours of that day, the
repeated hour once with +02:00 and once with +01:00. Quantities missing from a plan are skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from energy.site import Asset, AssetKind, Site
from energy.web.i18n import N_, gettext
from energy.web.labels import group_of

__all__ = ["GRID", "PANELS", "ChartSpec", "axis_ticks", "measured_keys", "plan_charts"]

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


def _layout(title: str, y_title: str) -> dict[str, Any]:
    """The figure keeps its title as metadata (the page shows it as a heading), legend on top;
    a click on a house's legend title hides or shows all of that house's lines."""
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
            "groupclick": "togglegroup",
        },
        "hovermode": "x unified",
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 11},
    }


def axis_ticks(labels: dict[pd.Timestamp, str], tz: ZoneInfo) -> tuple[list[str], list[str]]:
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

    def add(
        self, x: list[str], y: list[float], name: str, group: str | None = None, **line: Any
    ) -> None:
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": [v if math.isfinite(v) else None for v in y],
            "name": name,
            "line": line,
        }
        if group is not None:
            trace |= {"legendgroup": group, "legendgrouptitle": {"text": group}}
        self.traces.append(trace)

    def to_json(self, ticks: tuple[list[str], list[str]], categories: list[str]) -> str:
        """The x axis lists every category in time order: a series that starts later (the
        measured values) or ends later (end-of-slot values at the horizon's end) is placed by
        time, never appended at the far right."""
        layout = {
            **self.layout,
            "xaxis": {**self.layout["xaxis"], "tickmode": "array", "tickvals": ticks[0]}
            | {"ticktext": ticks[1], "categoryorder": "array", "categoryarray": categories},
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
        N_("Battery power (charging +)"),
        "kW",
        AssetKind.BATTERY,
        ("power_kw",),
        ("power_kw",),
    ),
    _Panel(
        "battery-soc",
        N_("Battery state of charge"),
        "%",
        AssetKind.BATTERY,
        ("soc_frac", "soc_end_frac"),
        ("soc_frac",),
        100.0,
    ),
    _Panel(
        "hp-power",
        N_("Heat pump electric power"),
        "kW",
        AssetKind.HEAT_PUMP,
        ("power_kw",),
        ("power_kw",),
    ),
    _Panel(
        "tank-temp",
        N_("Tank temperature"),
        "°C",
        AssetKind.TANK,
        ("tank_temp_c", "temp_end_c"),
        ("tank_temp_c",),
    ),
    _Panel("pv", N_("PV power"), "kW", AssetKind.PV, ("pv_kw", "power_kw"), ("power_kw",)),
)


def _trace_name(asset: Asset, what: str) -> str:
    """'plan' / 'measured' inside the house's legend group; shared assets keep their id."""
    return what if asset.house_id else f"{asset.id} {what}"


def _asset_chart(site: Site, panel: _Panel, planned: Series, measured: Series) -> _Chart | None:
    chart = _Chart(gettext(panel.title), panel.y_title)
    assets = [a for a in site.of_kind(panel.kind) if _first(planned, panel.planned_keys(a))]
    for index, asset in enumerate(assets):
        colour = PALETTE[index % len(PALETTE)]
        plan_series = _first(planned, panel.planned_keys(asset))
        if plan_series is not None:
            chart.add(
                plan_series[0],
                [v * panel.scale for v in plan_series[1]],
                _trace_name(asset, gettext("plan")),
                group_of(site, asset.id),
                color=colour,
                shape="hv",
                width=1.6,
            )
        measured_series = _first(measured, panel.measured_keys(asset))
        if measured_series is not None:
            chart.add(
                measured_series[0],
                [v * panel.scale for v in measured_series[1]],
                _trace_name(asset, gettext("measured")),
                group_of(site, asset.id),
                color=colour,
                dash="dot",
                width=1.4,
            )
    return chart if chart.traces else None


def _price_chart(planned: Series) -> _Chart | None:
    chart = _Chart(gettext("Prices"), "EUR/kWh")
    for quantity, name in (
        ("price_import_eur_per_kwh", gettext("import price")),
        ("price_export_eur_per_kwh", gettext("export price")),
    ):
        series = planned.get((GRID, quantity))
        if series is not None:
            chart.add(series[0], series[1], name, shape="hv")
    return chart if chart.traces else None


def _grid_chart(
    site: Site, planned: Series, measured: Series, labels: dict[pd.Timestamp, str]
) -> _Chart | None:
    chart = _Chart(gettext("Grid exchange (import +, export −)"), "kW")
    imports = planned.get((GRID, "import_kw"))
    exports = planned.get((GRID, "export_kw"))
    if imports is not None:
        chart.add(imports[0], imports[1], gettext("import plan"), shape="hv")
    if exports is not None:
        chart.add(exports[0], [-v for v in exports[1]], gettext("export plan"), shape="hv")
    net = measured.get(("grid.meter", "power_kw"))
    if net is not None:
        chart.add(net[0], net[1], gettext("measured net"), dash="dot")
    if not chart.traces:
        return None
    x = list(labels.values())
    grid = site.config.grid
    export_limit = min(grid.export_limit_kw, grid.feed_in_limit_kw or grid.export_limit_kw)
    limit_style: dict[str, Any] = {"color": "#c0392b", "dash": "dash", "width": 1}
    chart.add(
        x,
        [grid.import_limit_kw] * len(x),
        gettext("import limit %(limit)s kW", limit=f"{grid.import_limit_kw:g}"),
        **limit_style,
    )
    chart.add(
        x,
        [-export_limit] * len(x),
        gettext("export limit %(limit)s kW", limit=f"{export_limit:g}"),
        **limit_style,
    )
    return chart


def plan_charts(
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
    ticks = axis_ticks(labels, site.tz)
    return [
        ChartSpec(chart_id, chart.title, chart.to_json(ticks, list(labels.values())))
        for chart_id, chart in charts
        if chart is not None
    ]


def measured_keys(site: Site) -> list[tuple[str, str]]:
    keys = {("grid.meter", "power_kw")}
    for panel in PANELS:
        for asset in site.of_kind(panel.kind):
            keys.update(panel.measured_keys(asset))
    return sorted(keys)
