"""The control loop's rates in wall seconds and its safety margins in site-clock seconds.

At real time (speed 1) this is the site's `control:` configuration as written. Accelerated
(`kv run --speed N`), a job interval of `s` site seconds becomes `s / N` wall seconds, but never
less than MIN_WALL_INTERVAL_S: a Modbus round trip and a store write take real milliseconds. The
thresholds that depend on how often the loop runs grow with that floor, in site seconds:
a measurement is stale only after it missed STALE_AFTER_POLLS polls plus the slowest failing read
of any device (its timeout x tries: a dead device holds up the whole poll cycle, in wall time),
and a device watchdog must
outlive WATCHDOG_DISPATCHES dispatch cycles (`accelerated_site` raises the endpoints' watchdog_s
accordingly, for the simulated devices and the writer alike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from energy.config import (
    STALE_AFTER_POLLS,
    WATCHDOG_DISPATCHES,
    ControlConfig,
    DeviceEndpoint,
    SiteConfig,
    worst_read_s,
)
from energy.site import Site

__all__ = [
    "MIN_WALL_INTERVAL_S",
    "LoopTiming",
    "accelerated_site",
    "with_device_watchdogs",
]

MIN_WALL_INTERVAL_S = 0.5
#: real-time planning checks fire at the period boundary; accelerated ones this often per period
PLAN_CHECKS_PER_PERIOD = 6


@dataclass(frozen=True)
class LoopTiming:
    """Wall intervals of the jobs and site-clock thresholds, for one clock speed."""

    speed: float
    poll_wall_s: float
    dispatch_wall_s: float
    plan_check_wall_s: float
    lease_wall_s: float
    plan_interval_s: float
    stale_after_s: float
    lease_ttl_s: float
    restart_hold_s: float

    @classmethod
    def for_site(cls, site: Site, speed: float = 1.0) -> LoopTiming:
        control: ControlConfig = site.config.control
        poll_wall = max(control.poll_interval_s / speed, _floor(speed))
        dispatch_wall = max(control.dispatch_interval_s / speed, _floor(speed))
        plan_s = control.plan_interval_min * 60.0
        lease_wall = max(control.lease_ttl_s / 3.0 / speed, _floor(speed))
        watchdogs = [a.device.watchdog_s for a in site.devices() if a.device is not None]
        hold = control.restart_hold_s or (max(watchdogs) if watchdogs else 0.0)
        # a device that stopped answering holds up its poll cycle for its timeouts and retries
        # (wall seconds, whatever the speed): every other device's readings age meanwhile
        slowest_read_s = max(
            (worst_read_s(a.device) for a in site.devices() if a.device is not None), default=0.0
        )
        return cls(
            speed=speed,
            poll_wall_s=poll_wall,
            dispatch_wall_s=dispatch_wall,
            plan_check_wall_s=max(plan_s / speed / PLAN_CHECKS_PER_PERIOD, _floor(speed)),
            lease_wall_s=lease_wall,
            plan_interval_s=plan_s,
            stale_after_s=max(
                control.stale_after_s, (STALE_AFTER_POLLS * poll_wall + slowest_read_s) * speed
            ),
            lease_ttl_s=max(control.lease_ttl_s, 3.0 * lease_wall * speed),
            restart_hold_s=hold,
        )

    @property
    def accelerated(self) -> bool:
        return self.speed != 1.0

    def site_seconds(self, wall_s: float) -> float:
        return wall_s * self.speed


def _floor(speed: float) -> float:
    return MIN_WALL_INTERVAL_S if speed > 1.0 else 0.0


def accelerated_site(site: Site, speed: float) -> Site:
    """The site with every device watchdog long enough for the accelerated dispatch rate.

    At speed 1 the site is returned unchanged. Otherwise each endpoint's watchdog_s becomes at
    least WATCHDOG_DISPATCHES x the dispatch interval in site seconds, so a device does not fall
    back to local mode between two dispatch cycles only because the wall floor stretched them.
    """
    if speed == 1.0:
        return site
    control = site.config.control
    dispatch_site_s = max(control.dispatch_interval_s, MIN_WALL_INTERVAL_S * speed)
    minimum = WATCHDOG_DISPATCHES * dispatch_site_s
    return with_device_watchdogs(site, lambda watchdog_s: max(watchdog_s, minimum))


def with_device_watchdogs(site: Site, watchdog: Callable[[float], float]) -> Site:
    """The site with each device endpoint's watchdog_s replaced by watchdog(watchdog_s)."""

    def changed(endpoint: DeviceEndpoint | None) -> DeviceEndpoint | None:
        if endpoint is None:
            return None
        return endpoint.model_copy(update={"watchdog_s": watchdog(endpoint.watchdog_s)})

    config: SiteConfig = site.config
    houses = []
    for house in config.houses:
        update: dict[str, Any] = {"meter": changed(house.meter)}
        for attr in ("pv", "heat_pump", "battery"):
            part = getattr(house, attr)
            if part is not None:
                update[attr] = part.model_copy(update={"device": changed(part.device)})
        houses.append(house.model_copy(update=update))
    batteries = [
        b.model_copy(update={"device": changed(b.device)}) for b in config.community_batteries
    ]
    chargers = [c.model_copy(update={"device": changed(c.device)}) for c in config.ev_chargers]
    grid = config.grid.model_copy(update={"meter": changed(config.grid.meter)})
    return Site.from_config(
        config.model_copy(
            update={
                "grid": grid,
                "houses": houses,
                "community_batteries": batteries,
                "ev_chargers": chargers,
            }
        )
    )
