"""Is a device healthy? Judged by what is normal for its kind, not only by the age of its values.

- A PV inverter sleeps at night: it answers with zero power or a sleep operating state (SunSpec
  model 103 `St`: off, sleeping, standby), with values it marks as not implemented, or not at all.
  While the sun is below the site's horizon, or while the inverter itself reports that it sleeps,
  missing or invalid values are healthy.
- A heat pump in an SG Ready lock (state 1, the grid operator's block) is off on purpose: while it
  reports the lock, invalid values are healthy. A heat pump that stops answering is still red.

Every other device is as healthy as the worst of its polled series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from energy.site import Asset, AssetKind
from energy.solar import sun_is_down
from energy.web.i18n import gettext as _
from energy.web.levels import Level, worst

__all__ = ["DeviceHealth", "judge_device", "sun_is_down"]

SUNSPEC_ASLEEP = frozenset({1, 2, 8})
"""SunSpec model 103 operating states of an inverter that is not producing by design: off,
sleeping, standby."""

SG_READY_LOCK = 1


@dataclass(frozen=True)
class DeviceHealth:
    level: Level
    note: str
    """why a device is healthy although values are missing or invalid ('' when they are not)"""

    @property
    def asleep(self) -> bool:
        return self.level is Level.INFO


def _good_value(rows: list[dict[str, Any]], quantity: str) -> float | None:
    for row in rows:
        if row["quantity"] == quantity and row["quality"] == "good" and row["value"] is not None:
            return float(row["value"])
    return None


def judge_device(asset: Asset, rows: list[dict[str, Any]], sun_down: bool) -> DeviceHealth:
    """rows: the newest value of each polled series of the device, with its freshness level."""
    level = worst([r["level"] for r in rows]) if rows else Level.BAD
    if level in (Level.OK, Level.UNKNOWN):
        return DeviceHealth(level, "")
    if asset.kind is AssetKind.PV:
        state = _good_value(rows, "operating_state")
        power = _good_value(rows, "power_kw")
        if state is not None and round(state) in SUNSPEC_ASLEEP:
            return DeviceHealth(Level.INFO, _("asleep (the inverter reports it)"))
        if power == 0.0 and level is Level.WARN:
            return DeviceHealth(Level.INFO, _("asleep (answering with zero power)"))
        if sun_down:
            return DeviceHealth(Level.INFO, _("asleep at night (the sun is below the horizon)"))
    if asset.kind is AssetKind.HEAT_PUMP and level is Level.WARN:
        sg_ready = _good_value(rows, "sg_ready_state")
        if sg_ready is not None and round(sg_ready) == SG_READY_LOCK:
            return DeviceHealth(Level.INFO, _("SG Ready lock (off by the grid operator's signal)"))
    return DeviceHealth(level, "")
