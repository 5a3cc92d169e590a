"""The grid operator's limits in force, read at the start of every dispatch cycle.

`GridSignals.refresh(now)` reads both sources of the site's grid_signals section:

- the FNN control box: its relay contacts, wired to the digital inputs of a Modbus I/O module
  (config/registermaps/wago_750_352_io.yaml), are read once per cycle; every closed contact puts
  its configured limit in force "while signalled". When the module stops answering, the last
  limits read stay in force for the failsafe duration (grid_signals.failsafe_h, default 2 h)
  from the last good read and are lifted after it (alarm `grid_signal_lost` throughout); a
  process that starts while the box is silent keeps the box's limits its predecessor applied
  (from the audit log) for the failsafe duration from its start;
- the API (POST /api/grid-limits): limits stored with their end (energy.store.grid_limits).
  A caller that stops renewing its limit loses it at that end.

The tightest limit of each kind is in force (energy.grid_limits.LimitsInForce). Every change is
written to the audit log (action grid_limit.in_force) and logged, and `changed` tells the
runtime to re-plan at once. `external_limits(state)` turns the limits into what the dispatcher
and the planner apply: the §14a dimming limit shared over the controllable devices (heat pumps,
batteries charging) with at least min_power_per_device_kw each, merged with the caps the heat
pumps themselves report, and the feed-in limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pandas as pd

from connectors.device_client import DeviceClient, DeviceError
from connectors.registermap import load_register_map
from energy.alarm_texts import alarm_text
from energy.config import CONTROL_BOX_ID, GridSignalsConfig
from energy.control.planning import ExternalLimits
from energy.control.state import SiteState
from energy.grid_limits import GridLimit, LimitKind, LimitsInForce, share_dimming
from energy.site import AssetKind, Site
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.audit import append_audit
from energy.store.engine import Store
from energy.store.grid_limits import APPLIED_ACTION, active_api_limits, applied_limits

__all__ = ["GridSignals", "combined_limits", "device_caps", "reported_caps"]

log = logging.getLogger(__name__)

ACTOR = "system:grid_signals"


#: The controllable devices a §14a limit is shared over, with the rating that counts for each.
_DIMMED_RATING = {
    AssetKind.HEAT_PUMP: "electric_max_kw",
    AssetKind.BATTERY: "charge_max_kw",
    AssetKind.EV_CHARGER: "charge_max_kw",
}


def device_caps(
    site: Site, config: GridSignalsConfig, dimming_kw: float
) -> dict[AssetKind, dict[str, float]]:
    """Per kind of controllable device (heat pumps, batteries charging, EV chargers), each
    device's cap in kW under a §14a limit of dimming_kw."""
    rated = {
        asset.id: float(asset.params_dict()[rating])
        for kind, rating in _DIMMED_RATING.items()
        for asset in site.of_kind(kind)
    }
    caps = share_dimming(dimming_kw, rated, config.min_power_per_device_kw)
    return {
        kind: {a.id: caps[a.id] for a in site.of_kind(kind) if a.id in caps}
        for kind in _DIMMED_RATING
    }


class GridSignals:
    """The limits in force and their sources (module docstring)."""

    def __init__(self, site: Site, store: Store, client: DeviceClient | None = None):
        """client: the control box's Modbus client (default: built from the site config)."""
        if site.config.grid_signals is None:
            raise ValueError(f"site {site.id}: no grid_signals section")
        self.site = site
        self.store = store
        self.config: GridSignalsConfig = site.config.grid_signals
        box = self.config.control_box
        if client is None and box is not None:
            client = DeviceClient(
                CONTROL_BOX_ID,
                box.device,
                load_register_map(box.device.register_map, CONTROL_BOX_ID),
            )
        self.client = client
        self.in_force = LimitsInForce()
        #: the control box's limits at its last good read, and when that was
        self._box_limits: list[GridLimit] = []
        self._box_good_at: dt.datetime | None = None
        self._box_failing = False
        self._restored = False
        #: True when the last refresh changed the limits in force
        self.changed = False

    async def refresh(self, now: dt.datetime) -> LimitsInForce:
        """Read every source, apply the failsafe, audit a change (see module docstring)."""
        box = await self._read_box(now)
        api = await asyncio.to_thread(active_api_limits, self.store, self.site.id, now)
        in_force = LimitsInForce.tightest(box + api)
        self.changed = in_force != self.in_force
        if self.changed:
            await asyncio.to_thread(self._audit, self.in_force, in_force, now)
        self.in_force = in_force
        return in_force

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def _read_box(self, now: dt.datetime) -> list[GridLimit]:
        box = self.config.control_box
        if box is None or self.client is None:
            return []
        try:
            readings = await self.client.read_points([c.point for c in box.contacts])
        except DeviceError as exc:
            return await asyncio.to_thread(self._failsafe, now, str(exc))
        closed = [c for c in box.contacts if readings[c.point].value is True]
        limits = [
            GridLimit(LimitKind.DIMMING, c.dimming_kw, f"control_box:{c.point}")
            if c.dimming_kw is not None
            else GridLimit(LimitKind.FEED_IN, float(c.feed_in_kw or 0.0), f"control_box:{c.point}")
            for c in closed
        ]
        if self._box_good_at is None or self._box_failing:  # once per recovery, not per cycle
            await asyncio.to_thread(
                clear_alarm, self.store, self.site.id, "grid_signal_lost", CONTROL_BOX_ID, now
            )
        self._box_limits, self._box_good_at, self._box_failing = limits, now, False
        return limits

    def _restore(self, now: dt.datetime) -> None:
        """After a restart with a silent box: the box's limits the previous process applied (the
        audit log) count as read now, so the failsafe holds them for its full duration (or until
        the end of a failsafe that was already running)."""
        self._restored = True
        applied = applied_limits(self.store, self.site.id)
        box = [
            limit
            for limit in (applied[1].values() if applied is not None else ())
            if limit and str(limit["source"]).startswith("control_box:")
        ]
        failsafe = dt.timedelta(seconds=self.config.failsafe_s)
        # a limit already in its failsafe keeps its end (a restart does not prolong it)
        good_at = min(
            (dt.datetime.fromisoformat(b["until"]) - failsafe if b["until"] else now for b in box),
            default=None,
        )
        if good_at is not None and now < good_at + failsafe:
            self._box_good_at = good_at
            self._box_limits = [
                GridLimit(LimitKind(b["kind"]), float(b["limit_kw"]), b["source"]) for b in box
            ]
            log.warning(
                "control box silent at the start: keeping the limits applied before the restart "
                "(%s) for the failsafe duration",
                ", ".join(g.source for g in self._box_limits),
            )

    def _failsafe(self, now: dt.datetime, error: str) -> list[GridLimit]:
        """The control box did not answer: its last limits until the failsafe ends, then none."""
        self._box_failing = True
        if self._box_good_at is None and not self._restored:
            self._restore(now)
        if self._box_good_at is None:
            kept: list[GridLimit] = []
            note = alarm_text("grid_signal.none_read")
        else:
            ends = self._box_good_at + dt.timedelta(seconds=self.config.failsafe_s)
            if now < ends:
                kept = [GridLimit(g.kind, g.limit_kw, g.source, ends) for g in self._box_limits]
                note = alarm_text("grid_signal.failsafe", until_at=ends)
            else:
                kept = []
                note = alarm_text("grid_signal.lifted", ended_at=ends)
        raise_alarm(
            self.store,
            self.site.id,
            "grid_signal_lost",
            CONTROL_BOX_ID,
            Severity.CRITICAL,
            alarm_text("grid_signal.lost", error=error, note=note),
            now,
        )
        return kept

    def _audit(self, before: LimitsInForce, after: LimitsInForce, now: dt.datetime) -> None:
        log.warning("grid limits in force changed: %s -> %s", before.as_dict(), after.as_dict())
        append_audit(
            self.store,
            ACTOR,
            APPLIED_ACTION,
            f"site:{self.site.id}",
            {"before": before.as_dict(), "after": after.as_dict()},
            now,
        )

    def external_limits(self, state: SiteState) -> ExternalLimits | None:
        """What the dispatcher and the planner apply now (module docstring)."""
        return combined_limits(
            self.site, self.config, self.in_force, reported_caps(self.site, state)
        )


def reported_caps(site: Site, state: SiteState) -> dict[str, float]:
    """The §14a caps the heat pumps report themselves (0 = no cap)."""
    caps: dict[str, float] = {}
    for asset in site.of_kind(AssetKind.HEAT_PUMP):
        cap = state.value(asset.id, "dimming_cap_kw")
        if cap is not None and cap > 0:
            caps[asset.id] = cap
    return caps


def combined_limits(
    site: Site,
    config: GridSignalsConfig | None,
    in_force: LimitsInForce,
    reported: dict[str, float],
) -> ExternalLimits | None:
    """The connection-point limits shared over the devices, merged with the reported caps."""
    hp_caps = dict(reported)
    charge_caps: dict[str, float] = {}
    ev_caps: dict[str, float] = {}
    dimming_kw = None
    if in_force.dimming is not None and config is not None:
        shared = device_caps(site, config, in_force.dimming.limit_kw)
        for asset_id, cap in shared[AssetKind.HEAT_PUMP].items():
            hp_caps[asset_id] = min(cap, hp_caps.get(asset_id, cap))
        charge_caps = shared[AssetKind.BATTERY]
        ev_caps = shared[AssetKind.EV_CHARGER]
        dimming_kw = sum(sum(caps.values()) for caps in shared.values())
    feed_in_kw = in_force.feed_in.limit_kw if in_force.feed_in is not None else None
    if not hp_caps and dimming_kw is None and feed_in_kw is None:
        return None
    ends = [g.until for g in (in_force.dimming, in_force.feed_in) if g is not None]
    # one end for all: the latest (a limit without end: none), so no limit is planned too short
    until = None if not ends or any(e is None for e in ends) else max(e for e in ends if e)
    return ExternalLimits(
        heat_pump_cap_kw=hp_caps,
        feed_in_limit_kw=feed_in_kw,
        until=pd.Timestamp(until) if until is not None else None,
        battery_charge_cap_kw=charge_caps,
        ev_charge_cap_kw=ev_caps,
        dimming_kw=dimming_kw,
    )
