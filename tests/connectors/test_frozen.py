"""Frozen values: a battery whose registers stop changing is flagged, an idle one is not."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from connectors.device_client import PointReading
from connectors.frozen import FrozenTracker
from connectors.registermap import load_register_map
from energy.quality import Quality

T0 = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
BATTERY = load_register_map("battery_generic.yaml")
LIMIT_S = BATTERY.point("soc").frozen_after_s


def _readings(seconds: float, soc: float, power_w: float) -> dict[str, PointReading]:
    at = T0 + dt.timedelta(seconds=seconds)
    return {
        "soc": PointReading(soc, Quality.GOOD, at, "%"),
        "power_w": PointReading(power_w, Quality.GOOD, at, "W"),
    }


def test_the_battery_map_watches_its_state_of_charge() -> None:
    assert LIMIT_S is not None
    assert BATTERY.point("soc").frozen_while == "power_w"


def test_a_state_of_charge_stuck_while_power_flows_is_frozen() -> None:
    tracker = FrozenTracker(BATTERY)
    assert LIMIT_S is not None
    seen = [tracker.assess(_readings(t, 55.0, 2000.0)) for t in range(0, int(LIMIT_S) + 61, 30)]
    assert seen[0]["soc"].quality is Quality.GOOD
    last = seen[-1]["soc"]
    assert last.quality is Quality.INVALID
    assert last.reason.startswith("frozen: unchanged at 55.0")
    assert seen[-1]["power_w"].quality is Quality.GOOD  # only the watched point
    # it moves again: good at once
    assert tracker.assess(_readings(LIMIT_S + 90, 55.1, 2000.0))["soc"].quality is Quality.GOOD


def test_an_idle_battery_is_not_frozen() -> None:
    tracker = FrozenTracker(BATTERY)
    assert LIMIT_S is not None
    for t in range(0, int(LIMIT_S) * 3, 60):
        assert tracker.assess(_readings(t, 80.0, 0.0))["soc"].quality is Quality.GOOD


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.0, 2000.0])), max_size=60))
def test_frozen_only_after_the_limit_of_unchanged_flowing_time(
    steps: list[tuple[int, float]],
) -> None:
    """Against a direct count: frozen iff the value and flow held for the limit."""
    tracker = FrozenTracker(BATTERY)
    assert LIMIT_S is not None
    since: float | None = None
    previous: int | None = None
    for i, (soc, power) in enumerate(steps):
        t = i * 120.0
        flowing = abs(power) > 500
        if soc != previous or not flowing or since is None:
            since = t
        previous = soc
        frozen = tracker.assess(_readings(t, float(soc), power))["soc"].quality is Quality.INVALID
        assert frozen == (flowing and t - since >= LIMIT_S)
