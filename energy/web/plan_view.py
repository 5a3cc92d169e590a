"""What the plan page shows, assembled from the store: the plan, measured values per slot, prices
(the plan's, else the tariff's), charts (plan_charts.py), cost breakdown, violations, solver details
and the difference to the running plan. Summaries of either the optimizer's or the short layout are
read; whatever is missing is left out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from energy.site import Site
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, diff_plans, read_plan_values
from energy.tariff import TariffSeriesError, tariff_series
from energy.web.labels import cost_label
from energy.web.localtime import format_local, local_if_time, local_labels
from energy.web.plan_charts import GRID, ChartSpec, measured_keys, plan_charts
from energy.web.plan_story import PlanStory, plan_story
from energy.web.queries import measured_slots

__all__ = ["PlanView", "build_plan_view", "change_unit", "diff_summary"]

log = logging.getLogger(__name__)


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
    story: PlanStory
    diff: list[dict[str, Any]] = field(default_factory=list)


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
    """(item, value, unit) with the unit from the item's name; a name without one is EUR; a
    fraction (the autarky figures) is shown in percent."""
    raw = summary.get("cost_breakdown")
    if not isinstance(raw, dict):
        return []
    rows = []
    for name, value in raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if str(name).endswith("_frac"):
            rows.append((cost_label(str(name)), 100.0 * float(value), "%"))
            continue
        unit = next((u for suffix, u in _BREAKDOWN_UNITS if str(name).endswith(suffix)), "EUR")
        rows.append((cost_label(str(name)), float(value), unit))
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
        "local_control",
    }
)


def _detail_text(value: Any, tz: ZoneInfo) -> str:
    """A summary value for the table: times in local time, numbers to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    local = local_if_time(value, tz)
    if local is not None:
        return local
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
            measured_keys(site),
            plan.horizon_start,
            measured_end,
            plan.slot_minutes,
        )
    else:
        measured = pd.DataFrame(columns=["asset_id", "quantity", "slot_start", "value"])
    planned = _with_tariff_prices(site, planned, slots)
    charts = plan_charts(site, planned, measured, labels, slot) if slots else []
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
        story=plan_story(
            site,
            planned,
            plan.summary,
            (plan.horizon_end - plan.horizon_start).total_seconds() / 3600,
        ),
        diff=diff_summary(store, plan.id, reference.id) if reference is not None else [],
    )
