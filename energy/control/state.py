"""The district's state as the control loop may use it: fresh values only.

Safety rule 2: a value that cannot be read is not zero. Every Modbus device has one key quantity
the loop controls on (a battery's state of charge, a heat pump's tank temperature, a meter's
power); the device counts as stale when that quantity's newest stored value is older than
`stale_after_s`, is missing, or has a quality other than GOOD. The grid meter is a site-wide
input: when it is stale, no device may be controlled (limits at the connection point cannot be
kept without it).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from energy.alarm_texts import alarm_text
from energy.quality import Quality
from energy.site import AssetKind, Site
from energy.store.engine import Store
from energy.store.schema import measurements, series
from optimizer.inputs import DispatchState

__all__ = ["GRID_METER_ID", "KEY_QUANTITY", "SiteState", "read_site_state"]

#: The quantity each kind of device is controlled on (written by the poller from register maps).
KEY_QUANTITY: dict[AssetKind, str] = {
    AssetKind.BATTERY: "soc_frac",
    AssetKind.HEAT_PUMP: "tank_temp_c",
    AssetKind.PV: "power_kw",
    AssetKind.METER: "power_kw",
    AssetKind.GRID_METER: "power_kw",
    # the energy its car still needs by departure: what the plan charges towards
    AssetKind.EV_CHARGER: "need_kwh",
}


#: The meter at the district's grid connection (import positive).
GRID_METER_ID = "grid.meter"


@dataclass(frozen=True)
class SiteState:
    """Newest measurements at `time`, which devices are stale and why, and the optimizer state."""

    time: dt.datetime
    values: dict[tuple[str, str], float]
    stale: dict[str, str] = field(default_factory=dict)
    newest_measurement: dt.datetime | None = None

    @property
    def site_inputs_stale(self) -> bool:
        return GRID_METER_ID in self.stale

    def value(self, asset_id: str, quantity: str) -> float | None:
        value = self.values.get((asset_id, quantity))
        return None if value is None or not math.isfinite(value) else value

    def controllable(self, asset_id: str) -> bool:
        """True when the device's own inputs and the site's are fresh."""
        return asset_id not in self.stale and not self.site_inputs_stale

    def dispatch_state(self, site: Site) -> DispatchState:
        """The optimizer's initial state from fresh values; stale ones fall back to config."""
        soc: dict[str, float] = {}
        tank: dict[str, float] = {}
        hp_on: dict[str, bool] = {}
        ev_need: dict[str, float] = {}
        for asset in site.devices():
            if asset.id in self.stale:
                continue
            if asset.kind is AssetKind.BATTERY:
                value = self.value(asset.id, "soc_frac")
                if value is not None:
                    soc[asset.id] = min(max(value, 0.0), 1.0)
            elif asset.kind is AssetKind.HEAT_PUMP and asset.house_id is not None:
                temp = self.value(asset.id, "tank_temp_c")
                if temp is not None:
                    tank[f"{asset.house_id}.tank"] = temp
                running = self.value(asset.id, "on")
                if running is not None:
                    hp_on[asset.id] = running >= 0.5
            elif asset.kind is AssetKind.EV_CHARGER:
                need = self.value(asset.id, "need_kwh")
                if need is not None:
                    ev_need[asset.id] = max(need, 0.0)
        return DispatchState(soc_frac=soc, tank_temp_c=tank, hp_on=hp_on, ev_need_kwh=ev_need)


def read_site_state(store: Store, site: Site, now: dt.datetime, stale_after_s: float) -> SiteState:
    """Read the newest stored measurements and judge every device's freshness at `now`.

    Only the window (now - 2 x stale_after_s, now] is read (an index range per series): anything
    older is stale anyway, and the read stays cheap however long the history grows.
    """
    since = now - dt.timedelta(seconds=2 * stale_after_s)
    query = (
        select(
            series.c.asset_id,
            series.c.quantity,
            measurements.c.time,
            measurements.c.value,
            measurements.c.quality,
        )
        .join(measurements, measurements.c.series_id == series.c.id)
        .where(series.c.site_id == site.id, measurements.c.time > since, measurements.c.time <= now)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    if not frame.empty:
        frame = frame.sort_values("time").drop_duplicates(["asset_id", "quantity"], keep="last")
    return site_state_from_latest(frame, site, now, stale_after_s)


def site_state_from_latest(
    frame: pd.DataFrame, site: Site, now: dt.datetime, stale_after_s: float
) -> SiteState:
    """SiteState from a `latest_measurements` frame (asset_id, quantity, time, value, quality)."""
    values: dict[tuple[str, str], float] = {}
    rows: dict[tuple[str, str], tuple[dt.datetime, int]] = {}
    newest: dt.datetime | None = None
    for asset_id, quantity, time, value, quality in frame[
        ["asset_id", "quantity", "time", "value", "quality"]
    ].itertuples(index=False, name=None):
        when = pd.Timestamp(time).to_pydatetime()
        rows[(asset_id, quantity)] = (when, int(quality))
        if int(quality) == Quality.GOOD:
            values[(asset_id, quantity)] = float(value)
        newest = when if newest is None or when > newest else newest
    limit = dt.timedelta(seconds=stale_after_s)
    stale: dict[str, str] = {}
    for asset in site.devices():
        quantity = KEY_QUANTITY.get(asset.kind)
        if quantity is None:
            continue
        found = rows.get((asset.id, quantity))
        if found is None:
            stale[asset.id] = alarm_text("stale.missing", asset=asset.id, quantity=quantity)
            continue
        when, quality = found
        if quality != Quality.GOOD:
            stale[asset.id] = alarm_text(
                "stale.quality",
                asset=asset.id,
                quantity=quantity,
                quality=Quality(quality).name,
                since_at=when,
            )
        elif now - when > limit:
            stale[asset.id] = alarm_text(
                "stale.old",
                asset=asset.id,
                quantity=quantity,
                age_s=round((now - when).total_seconds()),
                now_at=now,
                limit_s=float(stale_after_s),
            )
    return SiteState(time=now, values=values, stale=stale, newest_measurement=newest)
