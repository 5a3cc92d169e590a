"""Which limits bind in a plan, per device and at the grid connection, in plain language:
'Netzbezugsgrenze 50 kW 17:00–18:00', 'Haus 3 · Batterie voll ab 14:00'.

A limit binds where the plan runs at it: the connection's import or feed-in limit where the
planned exchange reaches 98 % of it, a battery full or empty where its state of charge is
within half a percentage point of its configured bounds, a tank at its minimum or maximum
temperature within 0.2 K, a battery charging or discharging or a heat pump drawing at 98 % of
its rated power. A limit the grid operator set (a §14a dimming of the controllable devices, a
temporary feed-in limit) is named when it was in force as the plan was made: the planner stores
it with the plan (summary key `grid_limits`), the plan's values do not show it apart from the
configured limits. Times are the site's local time; a battery's state of charge and a tank's
temperature at the end of a slot (the optimizer's layout) count from that slot's end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from energy.config import BatteryConfig, HeatPumpConfig, TankConfig
from energy.site import AssetKind, Site
from energy.timegrid import SLOT_HOURS
from energy.web.i18n import N_, number
from energy.web.i18n import gettext as _
from energy.web.labels import asset_label

__all__ = ["binding_limits", "slot_window"]

POWER_SHARE = 0.98
SOC_TOLERANCE_FRAC = 0.005
TEMP_TOLERANCE_K = 0.2

Series = Callable[[str, str], pd.Series]
_SLOT = pd.Timedelta(hours=SLOT_HOURS)


def slot_window(active: pd.Series, site: Site) -> str:
    """'02:00–05:15' of the longest run of active slots, with the number of further runs."""
    runs: list[tuple[pd.Timestamp, pd.Timestamp, int]] = []
    start: pd.Timestamp | None = None
    length = 0
    previous: pd.Timestamp | None = None
    for slot, on in active.items():
        if on and start is not None:
            length += 1
        elif on:
            start, length = slot, 1
        elif start is not None and previous is not None:
            runs.append((start, previous, length))
            start = None
        previous = slot
    if start is not None and previous is not None:
        runs.append((start, previous, length))
    if not runs:
        return ""
    first, last, length = max(runs, key=lambda run: run[2])
    if length == len(active):
        return _("throughout the horizon")
    end = last + _SLOT
    text = f"{first.tz_convert(site.tz):%H:%M}–{end.tz_convert(site.tz):%H:%M}"
    if len(runs) > 1:
        text += _(" (and %(count)s more periods)", count=len(runs) - 1)
    return text


def _first_of(series: Series, asset_id: str, names: tuple[str, str]) -> pd.Series:
    """The end-of-slot layout (moved to the slot's end) or the short layout of a quantity."""
    end_of_slot, short = names
    values = series(asset_id, end_of_slot)
    if not values.empty:
        return pd.Series(values.to_numpy(), index=values.index + _SLOT)
    return series(asset_id, short)


def _from(mask: pd.Series, site: Site) -> str | None:
    hits = mask[mask]
    return None if hits.empty else f"{hits.index[0].tz_convert(site.tz):%H:%M}"


def _grid(site: Site, series: Series) -> list[str]:
    grid = site.config.grid
    found = []
    imports = series("grid", "import_kw")
    if not imports.empty and (imports >= POWER_SHARE * grid.import_limit_kw).any():
        found.append(
            _(
                "grid connection import limit %(limit)s kW %(window)s",
                limit=number(grid.import_limit_kw, 0),
                window=slot_window(imports >= POWER_SHARE * grid.import_limit_kw, site),
            )
        )
    export_limit = min(grid.export_limit_kw, grid.feed_in_limit_kw or grid.export_limit_kw)
    exports = series("grid", "export_kw")
    if not exports.empty and export_limit > 0 and (exports >= POWER_SHARE * export_limit).any():
        found.append(
            _(
                "feed-in limit %(limit)s kW %(window)s",
                limit=number(export_limit, 0),
                window=slot_window(exports >= POWER_SHARE * export_limit, site),
            )
        )
    return found


def _operator_limits(site: Site, summary: Mapping[str, Any]) -> list[str]:
    """The grid operator's limits in force when the plan was made (summary `grid_limits`)."""
    in_force = summary.get("grid_limits")
    if not isinstance(in_force, Mapping):
        return []
    texts = {
        "dimming": N_(
            "§14a dimming by the grid operator: controllable devices at most %(limit)s kW"
        ),
        "feed_in": N_("feed-in limit set by the grid operator %(limit)s kW"),
    }
    found = []
    for kind, text in texts.items():
        limit = in_force.get(kind)
        if not isinstance(limit, Mapping) or not isinstance(limit.get("limit_kw"), int | float):
            continue
        sentence = _(text, limit=number(float(limit["limit_kw"]), 1))
        until = limit.get("until")
        if isinstance(until, str):
            end = dt.datetime.fromisoformat(until).astimezone(site.tz)
            sentence += _(" until %(time)s", time=f"{end:%H:%M}")
        found.append(sentence)
    return found


def _full_power(
    site: Site, power: pd.Series, asset_id: str, rated_kw: float, text: str
) -> str | None:
    """`text` with the device, its rated power and when it runs at it; None when it never does."""
    at_rating = power >= POWER_SHARE * rated_kw
    if power.empty or not at_rating.any():
        return None
    return _(
        text,
        device=asset_label(site, asset_id),
        limit=number(rated_kw, 1),
        window=slot_window(at_rating, site),
    )


def _battery_power(site: Site, series: Series, asset_id: str, config: BatteryConfig) -> list[str]:
    power = series(asset_id, "power_kw")  # > 0 charging, < 0 discharging
    found = [
        _full_power(
            site,
            power,
            asset_id,
            config.charge_max_kw,
            N_("%(device)s charging at its full %(limit)s kW %(window)s"),
        ),
        _full_power(
            site,
            -power,
            asset_id,
            config.discharge_max_kw,
            N_("%(device)s discharging at its full %(limit)s kW %(window)s"),
        ),
    ]
    return [text for text in found if text is not None]


def _heat_pump(site: Site, series: Series, asset_id: str, config: HeatPumpConfig) -> list[str]:
    text = _full_power(
        site,
        series(asset_id, "power_kw"),
        asset_id,
        config.electric_max_kw,
        N_("%(device)s at its full %(limit)s kW %(window)s"),
    )
    return [text] if text is not None else []


def _battery(site: Site, series: Series, asset_id: str, config: BatteryConfig) -> list[str]:
    soc = _first_of(series, asset_id, ("soc_end_frac", "soc_frac"))
    found = _battery_power(site, series, asset_id, config)
    if soc.empty:
        return found
    label = asset_label(site, asset_id)
    full = _from(soc >= config.soc_max_frac - SOC_TOLERANCE_FRAC, site)
    if full is not None:
        found.append(_("%(device)s full from %(time)s", device=label, time=full))
    empty = _from(soc <= config.soc_min_frac + SOC_TOLERANCE_FRAC, site)
    if empty is not None:
        found.append(_("%(device)s empty from %(time)s", device=label, time=empty))
    return found


def _tank(site: Site, series: Series, asset_id: str, config: TankConfig) -> list[str]:
    temp = _first_of(series, asset_id, ("temp_end_c", "tank_temp_c"))
    if temp.empty:
        return []
    label = asset_label(site, asset_id)
    found = []
    hottest = _from(temp >= config.temp_max_c - TEMP_TOLERANCE_K, site)
    if hottest is not None:
        found.append(
            _(
                "%(device)s at its maximum of %(temp)s °C from %(time)s",
                device=label,
                temp=number(config.temp_max_c, 0),
                time=hottest,
            )
        )
    coldest = _from(temp <= config.temp_min_c + TEMP_TOLERANCE_K, site)
    if coldest is not None:
        found.append(
            _(
                "%(device)s at its minimum of %(temp)s °C from %(time)s",
                device=label,
                temp=number(config.temp_min_c, 0),
                time=coldest,
            )
        )
    return found


def binding_limits(
    site: Site, series: Series, summary: Mapping[str, Any] | None = None
) -> list[str]:
    """Every limit the plan runs at, the grid operator's and the connection's first, then per
    device in site order."""
    found = _operator_limits(site, summary or {}) + _grid(site, series)
    for asset in site.assets:
        if asset.kind is AssetKind.BATTERY and isinstance(asset.params, BatteryConfig):
            found += _battery(site, series, asset.id, asset.params)
        elif asset.kind is AssetKind.HEAT_PUMP and isinstance(asset.params, HeatPumpConfig):
            found += _heat_pump(site, series, asset.id, asset.params)
        elif asset.kind is AssetKind.TANK and isinstance(asset.params, TankConfig):
            found += _tank(site, series, asset.id, asset.params)
    return found
