"""The house page: one house's card (overview_view.py) and charts of its devices over the last
days as measured and the next hours as planned, on one local time axis (plan_charts.py).

The plan is the active one, else the newest stored; only its slots from the current one on are
drawn (what is still to come). Measured values are slot means of good-quality values
(queries.measured_slots).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from fastapi import HTTPException

from energy.config import HouseConfig
from energy.site import Site
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, list_plans, read_plan_values
from energy.timegrid import SLOT
from energy.web.i18n import gettext as _
from energy.web.localtime import format_local
from energy.web.overview_view import Card, house_card
from energy.web.plan_charts import ChartSpec, house_charts, measured_keys
from energy.web.queries import measured_slots
from energy.web.settings import WebSettings

__all__ = ["HISTORY_DAYS", "HouseView", "build_house_view", "house_or_404"]

HISTORY_DAYS = 2
"""Measured days shown by default."""


@dataclass
class HouseView:
    house: HouseConfig
    card: Card
    charts: list[ChartSpec]
    plan: PlanRecord | None
    plan_is_active: bool
    history_days: int
    planned_until: dt.datetime | None


def house_or_404(site: Site, house_id: str) -> HouseConfig:
    for house in site.config.houses:
        if house.id == house_id:
            return house
    raise HTTPException(404, _("The district has no house %(house)s.", house=house_id))


def _plan_of(store: Store, site: Site, now: dt.datetime) -> tuple[PlanRecord | None, bool]:
    """The active plan, else the newest stored one; and whether it is the active one."""
    running = active_plan(store, site.id, now)
    if running is not None:
        return running, True
    newest = list_plans(store, site.id, limit=1)
    return (newest[0] if newest else None), False


def build_house_view(
    site: Site, store: Store, house: HouseConfig, settings: WebSettings, history_days: int
) -> HouseView:
    now = settings.clock()
    plan, is_active = _plan_of(store, site, now)
    slot = pd.Timedelta(minutes=plan.slot_minutes) if plan is not None else pd.Timedelta(SLOT)
    current = pd.Timestamp(now).floor(slot)
    start = current - pd.Timedelta(days=history_days)
    asset_ids = {a.id for a in site.assets if a.house_id == house.id}
    planned = pd.DataFrame(columns=["asset_id", "quantity", "slot_start", "value"])
    if plan is not None:
        values = read_plan_values(store, plan.id)
        planned = values[values["asset_id"].isin(asset_ids) & (values["slot_start"] >= current)]
    end = current + slot
    if not planned.empty:
        end = max(end, pd.Timestamp(planned["slot_start"].max()) + slot)
    measured = measured_slots(
        store,
        site.id,
        measured_keys(site, house.id),
        start.to_pydatetime(),
        now,
        int(slot.total_seconds() // 60),
    )
    # one category per slot, the last one for end-of-slot values (SoC, tank temperature)
    times = pd.date_range(start, end, freq=slot)
    labels = {t: format_local(t, site.tz) for t in times}
    return HouseView(
        house=house,
        card=house_card(site, store, house, now, settings),
        charts=house_charts(site, house.id, planned, measured, labels, slot),
        plan=plan,
        plan_is_active=is_active,
        history_days=history_days,
        planned_until=None if planned.empty else end.to_pydatetime(),
    )
