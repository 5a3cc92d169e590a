"""Clock, loop timing in real and accelerated mode, planning periods across DST."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from energy.control.clock import ManualClock, ScaledClock
from energy.control.planner import period_start
from energy.control.timing import (
    MIN_WALL_INTERVAL_S,
    STALE_AFTER_POLLS,
    WATCHDOG_DISPATCHES,
    LoopTiming,
    accelerated_site,
)
from energy.site import Site

T0 = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


def test_scaled_clock_runs_speed_times_the_wall() -> None:
    mono = time.monotonic()
    clock = ScaledClock(T0, 100.0, anchor_monotonic=mono - 2.0)
    elapsed = (clock.now() - T0).total_seconds()
    assert 200.0 <= elapsed < 200.0 + 100.0 * 1.0  # 2 wall s ago, plus this test's own time
    assert clock.speed == 100.0


def test_clocks_refuse_naive_times_and_bad_speed() -> None:
    with pytest.raises(ValueError, match="UTC-aware"):
        ScaledClock(dt.datetime(2026, 6, 1), 2.0)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(T0, 0.0)
    with pytest.raises(ValueError, match="UTC-aware"):
        ManualClock(dt.datetime(2026, 6, 1))


def test_manual_clock_moves_only_by_hand() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    assert clock.advance(90) == T0 + dt.timedelta(seconds=90)
    assert clock.now() == T0 + dt.timedelta(seconds=90)


def test_real_time_timing_is_the_configuration(site: Site) -> None:
    control = site.config.control
    timing = LoopTiming.for_site(site)
    assert not timing.accelerated
    assert timing.poll_wall_s == control.poll_interval_s
    assert timing.dispatch_wall_s == control.dispatch_interval_s
    assert timing.stale_after_s == control.stale_after_s
    assert timing.lease_ttl_s == control.lease_ttl_s
    watchdogs = [a.device.watchdog_s for a in site.devices() if a.device is not None]
    assert timing.restart_hold_s == max(watchdogs)


def test_accelerated_timing_scales_intervals_with_a_wall_floor(site: Site) -> None:
    timing = LoopTiming.for_site(site, speed=600.0)
    assert timing.accelerated
    assert timing.poll_wall_s == MIN_WALL_INTERVAL_S  # 5 s / 600 would be 8 ms
    assert timing.plan_interval_s == 900.0
    # a value must outlive several (stretched) polls, and a dead device's timeouts and retries
    # (1 s x 2 tries by default), before it counts as stale
    assert timing.stale_after_s == pytest.approx(
        (STALE_AFTER_POLLS * MIN_WALL_INTERVAL_S + 2.0) * 600
    )
    slow = LoopTiming.for_site(site, speed=2.0)
    assert slow.poll_wall_s == pytest.approx(site.config.control.poll_interval_s / 2.0)


def test_accelerated_site_lengthens_every_watchdog(site: Site) -> None:
    assert accelerated_site(site, 1.0) is site
    fast = accelerated_site(site, 300.0)
    minimum = WATCHDOG_DISPATCHES * MIN_WALL_INTERVAL_S * 300.0
    devices = [a for a in fast.devices() if a.device is not None]
    assert len(devices) == len(list(site.devices()))
    assert all(a.device.watchdog_s >= minimum for a in devices)  # type: ignore[union-attr]
    # nothing else about the devices changes
    before = {a.id: a.device.port for a in site.devices()}  # type: ignore[union-attr]
    assert {a.id: a.device.port for a in devices} == before  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("now", "minutes", "expected"),
    [
        (dt.datetime(2026, 6, 1, 4, 14, 59, tzinfo=dt.UTC), 15, dt.datetime(2026, 6, 1, 4, 0)),
        (dt.datetime(2026, 6, 1, 4, 15, 0, tzinfo=dt.UTC), 15, dt.datetime(2026, 6, 1, 4, 15)),
        (dt.datetime(2026, 6, 1, 4, 44, 0, tzinfo=dt.UTC), 30, dt.datetime(2026, 6, 1, 4, 30)),
        # the DST changes of 2026 (local 02:00 -> 03:00 and 03:00 -> 02:00) are plain UTC hours
        (dt.datetime(2026, 3, 29, 1, 7, tzinfo=dt.UTC), 15, dt.datetime(2026, 3, 29, 1, 0)),
        (dt.datetime(2026, 10, 25, 0, 59, tzinfo=dt.UTC), 60, dt.datetime(2026, 10, 25, 0, 0)),
    ],
)
def test_planning_periods_align_to_the_utc_quarter_hours(
    now: dt.datetime, minutes: int, expected: dt.datetime
) -> None:
    assert period_start(now, minutes) == expected.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("speed", [1.0, 10.0, 60.0, 288.0])
@pytest.mark.parametrize(("timeout_s", "retries"), [(1.0, 1), (3.0, 2), (0.2, 0)])
def test_one_dead_device_does_not_make_the_others_stale(
    site: Site, speed: float, timeout_s: float, retries: int
) -> None:
    """A poll cycle held up by one device running into its timeouts leaves every other device's
    readings one cycle old: younger than the stale limit (at --speed 60 they went stale)."""
    changed = site.config.model_copy(
        update={
            "ev_chargers": [
                c.model_copy(
                    update={
                        "device": c.device.model_copy(
                            update={"timeout_s": timeout_s, "retries": retries}
                        )
                    }  # type: ignore[union-attr]
                )
                for c in site.config.ev_chargers
            ]
        }
    )
    timing = LoopTiming.for_site(Site.from_config(changed), speed=speed)
    held_up_cycle_site_s = (timing.poll_wall_s + timeout_s * (retries + 1)) * speed
    # the newest reading is at most one held-up cycle old, plus one poll interval until the
    # next cycle's readings are in
    assert held_up_cycle_site_s + timing.poll_wall_s * speed < timing.stale_after_s
