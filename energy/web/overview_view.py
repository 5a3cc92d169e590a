"""The district overview (landing page): one card per house and for the shared assets, each value
the newest stored measurement with its age and quality, and the grid exchange against the
connection limits and the grid operator's limits in force.

A value is marked stale when its quality is not good or it is older than its series' freshness
limit (energy.web.freshness), the same judgement the status page makes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from energy.config import HouseConfig
from energy.quality import Quality
from energy.site import AssetKind, Site
from energy.store.engine import Store
from energy.store.grid_limits import applied_limits
from energy.store.measurements import latest_measurements
from energy.web.device_health import SG_READY_LOCK
from energy.web.freshness import age_level, freshness_limit
from energy.web.i18n import N_, number
from energy.web.i18n import gettext as _
from energy.web.labels import asset_label
from energy.web.levels import Level
from energy.web.localtime import format_local
from energy.web.settings import WebSettings

__all__ = [
    "Card",
    "GridExchange",
    "Overview",
    "Reading",
    "StoredValue",
    "age_text",
    "build_overview",
    "house_card",
    "latest_values",
]


@dataclass(frozen=True)
class StoredValue:
    time: dt.datetime
    value: float | None
    quality: int


Latest = dict[tuple[str, str], StoredValue]
"""(asset_id, quantity) -> the newest stored value."""


@dataclass(frozen=True)
class Reading:
    """One value on a card: a number with its unit, or a state in words (text)."""

    id: str
    label: str
    value: float | None
    unit: str
    digits: int
    age_s: float | None
    quality: str | None
    stale: bool
    text: str = ""


@dataclass
class Card:
    id: str
    title: str
    href: str | None
    readings: list[Reading] = field(default_factory=list)

    @property
    def stale_count(self) -> int:
        return sum(r.stale for r in self.readings)


@dataclass(frozen=True)
class GridExchange:
    """The district's exchange at the connection (import +) against its limits."""

    reading: Reading
    import_limit_kw: float
    export_limit_kw: float
    limits_in_force: list[str]

    @property
    def share_of_limit(self) -> float | None:
        """The exchange as a fraction of the limit in its direction (import or export)."""
        value = self.reading.value
        if value is None:
            return None
        limit = self.import_limit_kw if value >= 0 else self.export_limit_kw
        return abs(value) / limit if limit > 0 else None


@dataclass
class Overview:
    time: dt.datetime
    houses: list[Card]
    shared: list[Card]
    grid: GridExchange


def latest_values(store: Store, site_id: str) -> Latest:
    """The newest stored value of every series, keyed by (asset_id, quantity)."""
    latest: Latest = {}
    for row in latest_measurements(store, site_id).itertuples(index=False):
        value = float(row.value) if pd.notna(row.value) else None
        latest[(row.asset_id, row.quantity)] = StoredValue(
            row.time.to_pydatetime(), value, int(row.quality)
        )
    return latest


def age_text(age_s: float | None) -> str:
    """How old a value is, in the largest unit that keeps it readable: '12 s', '5 min', '3 h'."""
    if age_s is None:
        return "-"
    if age_s < 120:
        return _("%(n)s s ago", n=number(age_s, 0))
    if age_s < 120 * 60:
        return _("%(n)s min ago", n=number(age_s / 60, 0))
    if age_s < 48 * 3600:
        return _("%(n)s h ago", n=number(age_s / 3600, 0))
    return _("%(n)s d ago", n=number(age_s / 86400, 0))


class _Reader:
    """Builds readings from the newest values at one instant."""

    def __init__(self, latest: Latest, now: dt.datetime, settings: WebSettings) -> None:
        self.latest = latest
        self.now = now
        self.settings = settings

    def find(self, keys: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], StoredValue] | None:
        for key in keys:
            if key in self.latest:
                return key, self.latest[key]
        return None

    def reading(
        self,
        reading_id: str,
        label: str,
        keys: Sequence[tuple[str, str]],
        unit: str,
        digits: int = 1,
        scale: float = 1.0,
    ) -> Reading:
        """The first of keys that is stored; a missing value is shown as such and marked."""
        found = self.find(keys)
        if found is None:
            return Reading(reading_id, label, None, unit, digits, None, None, True)
        (asset_id, quantity), stored = found
        age_s = (self.now - stored.time).total_seconds()
        limit = freshness_limit(asset_id, quantity, self.settings)
        return Reading(
            reading_id,
            label,
            None if stored.value is None else stored.value * scale,
            unit,
            digits,
            round(age_s, 1),
            Quality(stored.quality).name.lower(),
            age_level(age_s, stored.quality, limit) is not Level.OK,
        )

    def heat_pump_state(self, hp_id: str) -> Reading:
        """Running or off from the compressor flag; an SG Ready lock is said."""
        running = self.reading("hp-state", _("Heat pump"), [(hp_id, "on")], "", 0)
        sg_ready = self.latest.get((hp_id, "sg_ready_state"))
        if running.value is None:
            text = _("no value")
        else:
            text = _("running") if running.value >= 0.5 else _("off")
        if (
            sg_ready is not None
            and sg_ready.value is not None
            and round(sg_ready.value) == SG_READY_LOCK
        ):
            text += " · " + _("SG Ready lock")
        return replace(running, text=text)


def _battery_readings(reader: _Reader, battery_id: str) -> list[Reading]:
    return [
        reader.reading(
            "battery-soc", _("Battery state of charge"), [(battery_id, "soc_frac")], "%", 0, 100.0
        ),
        reader.reading(
            "battery-power", _("Battery power (charging +)"), [(battery_id, "power_kw")], "kW", 1
        ),
    ]


def _house_card(site: Site, reader: _Reader, house: HouseConfig) -> Card:
    card = Card(house.id, house.name, f"/houses/{house.id}")
    owned = {a.kind: a.id for a in site.assets if a.house_id == house.id}
    if AssetKind.PV in owned:
        card.readings.append(
            reader.reading("pv", _("PV power"), [(owned[AssetKind.PV], "power_kw")], "kW")
        )
    if AssetKind.BATTERY in owned:
        card.readings += _battery_readings(reader, owned[AssetKind.BATTERY])
    if AssetKind.HEAT_PUMP in owned:
        hp = owned[AssetKind.HEAT_PUMP]
        card.readings.append(reader.heat_pump_state(hp))
        card.readings.append(
            reader.reading(
                "hp-power",
                _("Heat pump electric power"),
                [(hp, "electric_power_kw"), (hp, "power_kw")],
                "kW",
                2,
            )
        )
    tank_keys = [
        (owned[kind], "tank_temp_c")
        for kind in (AssetKind.HEAT_PUMP, AssetKind.TANK)
        if kind in owned
    ]
    if tank_keys:
        card.readings.append(reader.reading("tank-temp", _("Tank temperature"), tank_keys, "°C"))
    return card


def house_card(
    site: Site, store: Store, house: HouseConfig, now: dt.datetime, settings: WebSettings
) -> Card:
    """One house's card (the house page shows it above its charts)."""
    return _house_card(site, _Reader(latest_values(store, site.id), now, settings), house)


_LIMIT_KINDS = {
    "dimming": N_("§14a dimming of the controllable devices to %(limit)s kW"),
    "feed_in": N_("Feed-in limited to %(limit)s kW"),
}


def limits_in_force(site: Site, store: Store, now: dt.datetime) -> list[str]:
    """The grid operator's limits the control loop applies now, in words."""
    applied = applied_limits(store, site.id)
    if applied is None:
        return []
    texts = []
    for kind, limit in sorted(applied[1].items()):
        if not limit:
            continue
        until = dt.datetime.fromisoformat(limit["until"]) if limit.get("until") else None
        if until is not None and until <= now:
            continue
        text = _(_LIMIT_KINDS.get(kind, kind), limit=number(float(limit["limit_kw"]), 1))
        text += (
            " " + _("until %(time)s", time=format_local(until, site.tz))
            if until is not None
            else " " + _("while signalled")
        )
        texts.append(f"{text} ({limit['source']})")
    return texts


def _ev_charger_readings(reader: _Reader, charger_id: str) -> list[Reading]:
    return [
        reader.reading("ev-power", _("Charging power"), [(charger_id, "power_kw")], "kW", 1),
        reader.reading(
            "ev-need", _("Energy the car still needs"), [(charger_id, "need_kwh")], "kWh", 1
        ),
    ]


def build_overview(site: Site, store: Store, settings: WebSettings) -> Overview:
    now = settings.clock()
    reader = _Reader(latest_values(store, site.id), now, settings)
    houses = [_house_card(site, reader, house) for house in site.config.houses]
    shared = [
        Card(battery.id, asset_label(site, battery.id), None, _battery_readings(reader, battery.id))
        for battery in site.of_kind(AssetKind.BATTERY)
        if battery.house_id is None
    ] + [
        Card(
            charger.id,
            asset_label(site, charger.id),
            None,
            _ev_charger_readings(reader, charger.id),
        )
        for charger in site.ev_chargers()
    ]
    grid = site.config.grid
    exchange = GridExchange(
        reader.reading(
            "grid", _("Grid exchange (import +, export −)"), [("grid.meter", "power_kw")], "kW"
        ),
        grid.import_limit_kw,
        min(grid.export_limit_kw, grid.feed_in_limit_kw or grid.export_limit_kw),
        limits_in_force(site, store, now),
    )
    return Overview(now, houses, shared, exchange)
