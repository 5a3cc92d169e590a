"""The plan in words: what each device does when, why, and what that is worth.

Everything is computed from the plan's values and prices and from the comparison with local
control the planner stored with the plan (optimizer.comparison, summary key `local_control`):
per device the energy it moves, its main window in local time, the mean price it buys at, and
the money its schedule saves against the devices' own controllers over the same horizon; and the
limits that bind, named in the headline (energy.web.plan_limits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy.site import AssetKind, Site
from energy.timegrid import SLOT_HOURS
from energy.web.i18n import gettext as _
from energy.web.i18n import money, number
from energy.web.labels import asset_label
from energy.web.plan_limits import binding_limits, slot_window

__all__ = ["DeviceStory", "PlanStory", "plan_story"]

ACTIVE_KW = 0.05
"""Below this a device counts as idle in a slot (numerical noise, standby)."""


@dataclass
class DeviceStory:
    asset_id: str
    label: str
    text: str
    saving_eur: float | None
    shifted_kwh: float | None


@dataclass
class PlanStory:
    headline: str
    sentences: list[str] = field(default_factory=list)
    devices: list[DeviceStory] = field(default_factory=list)
    plan_cost_eur: float | None = None
    local_cost_eur: float | None = None
    saving_eur: float | None = None
    limits: list[str] = field(default_factory=list)
    """the limits that bind, in words (energy.web.plan_limits)"""


_EMPTY = pd.Series(dtype=float)


class _Plan:
    """The plan's values per (asset, quantity) as series over slot starts: sorted once, each
    series cut out when first asked for (a story needs a few of a plan's hundred series)."""

    def __init__(self, planned: pd.DataFrame) -> None:
        frame = planned.sort_values(["asset_id", "quantity", "slot_start"], kind="stable")
        self._times = pd.DatetimeIndex(frame["slot_start"])
        self._values = frame["value"].to_numpy(dtype=float)
        self._ranges: dict[tuple[str, str], tuple[int, int]] = {}
        keys = list(zip(frame["asset_id"].astype(str), frame["quantity"].astype(str), strict=True))
        first = 0
        for index in range(1, len(keys) + 1):
            if index == len(keys) or keys[index] != keys[first]:
                self._ranges[keys[first]] = (first, index)
                first = index

    def __call__(self, asset_id: str, quantity: str) -> pd.Series:
        bounds = self._ranges.get((asset_id, quantity))
        if bounds is None:
            return _EMPTY
        start, end = bounds
        return pd.Series(self._values[start:end], index=self._times[start:end])


def _mean_price(price: pd.Series, power: pd.Series, mask: pd.Series) -> float | None:
    """Price weighted with the energy moved in the masked slots."""
    weights = power.abs()[mask]
    aligned = price.reindex(weights.index)
    if weights.sum() <= 0 or aligned.isna().any():
        return None
    return float((aligned * weights).sum() / weights.sum())


def _battery_text(power: pd.Series, price: pd.Series, surplus: pd.Series, site: Site) -> str:
    charging = power > ACTIVE_KW
    discharging = power < -ACTIVE_KW
    parts = []
    if charging.any():
        kwh = float(power[charging].sum() * SLOT_HOURS)
        solar = float(surplus.reindex(power.index, fill_value=False)[charging].mean())
        reason = (
            _("mostly from PV surplus")
            if solar >= 0.5
            else _("at %(price)s/kWh on average", price=money(_mean_price(price, power, charging)))
        )
        parts.append(
            _(
                "charges %(kwh)s kWh %(window)s %(reason)s",
                kwh=number(kwh, 1),
                window=slot_window(charging, site),
                reason=reason,
            )
        )
    if discharging.any():
        kwh = float(-power[discharging].sum() * SLOT_HOURS)
        parts.append(
            _(
                "discharges %(kwh)s kWh %(window)s, when grid power costs %(price)s/kWh on average",
                kwh=number(kwh, 1),
                window=slot_window(discharging, site),
                price=money(_mean_price(price, power, discharging)),
            )
        )
    return "; ".join(parts) if parts else _("stays idle")


def _heat_pump_text(power: pd.Series, price: pd.Series, site: Site) -> str:
    running = power > ACTIVE_KW
    if not running.any():
        return _("stays off (the tank holds enough heat)")
    kwh = float(power[running].sum() * SLOT_HOURS)
    paid = _mean_price(price, power, running)
    mean = float(price.mean()) if not price.empty else None
    text = _(
        "runs with %(kwh)s kWh of electricity, mainly %(window)s, at %(price)s/kWh on average",
        kwh=number(kwh, 1),
        window=slot_window(running, site),
        price=money(paid),
    )
    if paid is not None and mean is not None and paid < mean - 1e-6:
        text += _(" (horizon mean %(mean)s/kWh)", mean=money(mean))
    return text


def _device_texts(
    site: Site, series: _Plan, price: pd.Series, surplus: pd.Series
) -> dict[str, str]:
    texts: dict[str, str] = {}
    for asset in site.assets:
        if asset.kind is AssetKind.BATTERY:
            power = series(asset.id, "power_kw")
            if not power.empty:
                texts[asset.id] = _battery_text(power, price, surplus, site)
        elif asset.kind is AssetKind.HEAT_PUMP:
            power = series(asset.id, "power_kw")
            if not power.empty:
                texts[asset.id] = _heat_pump_text(power, price, site)
    return texts


def _grid_sentences(site: Site, series: _Plan) -> list[str]:
    imports = series("grid", "import_kw")
    exports = series("grid", "export_kw")
    if imports.empty:
        return []
    return [
        _(
            "The district draws %(import)s kWh from the grid and feeds in %(export)s kWh.",
            **{
                "import": number(float(imports.sum() * SLOT_HOURS), 1),
                "export": number(float(exports.sum() * SLOT_HOURS), 1),
            },
        )
    ]


def _value_headline(comparison: dict[str, Any] | None, hours: float) -> tuple[str, Any, Any, Any]:
    if not isinstance(comparison, dict) or "saving_eur" not in comparison:
        return (
            _(
                "This plan carries no comparison with local control "
                "(it was made before plans recorded one)."
            ),
            None,
            None,
            None,
        )
    plan_cost = comparison.get("plan", {}).get("objective_eur")
    local_cost = comparison.get("local", {}).get("objective_eur")
    saving = float(comparison["saving_eur"])
    values = {
        "hours": number(hours, 0),
        "plan": money(plan_cost),
        "local": money(local_cost),
        "saving": money(abs(saving)),
    }
    if saving >= 0.005:
        text = _(
            "Over the next %(hours)s hours this plan costs %(plan)s; the devices left to their "
            "own controllers would cost %(local)s with the same forecast. The plan saves "
            "%(saving)s.",
            **values,
        )
    elif saving <= -0.005:
        text = _(
            "Over the next %(hours)s hours this plan costs %(plan)s, %(saving)s more than the "
            "devices' own controllers (%(local)s): it keeps limits or comfort they would miss.",
            **values,
        )
    else:
        text = _(
            "Over the next %(hours)s hours this plan costs %(plan)s, the same as the devices' own "
            "controllers would.",
            **values,
        )
    return text, plan_cost, local_cost, saving


def plan_story(
    site: Site, planned: pd.DataFrame, summary: dict[str, Any], horizon_hours: float
) -> PlanStory:
    """The plan page's explanation from the plan's values (with prices) and summary."""
    series = _Plan(planned)
    price = series("grid", "price_import_eur_per_kwh")
    exports = series("grid", "export_kw")
    surplus = exports > ACTIVE_KW
    comparison = summary.get("local_control")
    headline, plan_cost, local_cost, saving = _value_headline(comparison, horizon_hours)
    per_asset = comparison.get("assets", {}) if isinstance(comparison, dict) else {}
    devices = []
    for asset_id, text in _device_texts(site, series, price, surplus).items():
        figures = per_asset.get(asset_id) if isinstance(per_asset, dict) else None
        devices.append(
            DeviceStory(
                asset_id=asset_id,
                label=asset_label(site, asset_id),
                text=text,
                saving_eur=figures.get("saving_eur") if isinstance(figures, dict) else None,
                shifted_kwh=figures.get("shifted_kwh") if isinstance(figures, dict) else None,
            )
        )
    sentences = _grid_sentences(site, series)
    if not price.empty and not np.isclose(price.min(), price.max()):
        cheapest = price.idxmin().tz_convert(site.tz)
        dearest = price.idxmax().tz_convert(site.tz)
        sentences.insert(
            0,
            _(
                "Grid power is cheapest at %(cheap_time)s (%(cheap)s/kWh) and dearest at "
                "%(dear_time)s (%(dear)s/kWh).",
                cheap_time=f"{cheapest:%H:%M}",
                cheap=money(float(price.min())),
                dear_time=f"{dearest:%H:%M}",
                dear=money(float(price.max())),
            ),
        )
    limits = binding_limits(site, series, summary)
    return PlanStory(headline, sentences, devices, plan_cost, local_cost, saving, limits)
