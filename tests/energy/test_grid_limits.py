"""§14a dimming shared over the controllable devices, and the tightest limit of each kind."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy.grid_limits import GridLimit, LimitKind, LimitsInForce, share_dimming

T0 = dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC)


def test_a_limit_is_shared_above_the_guarantees_in_proportion_to_the_ratings() -> None:
    # guarantees 4.2 + 4.2 + 3.0 = 11.4 kW; 20 kW leaves 8.6 kW for the headroom above them,
    # 3.8 kW (8 - 4.2) and 20.8 kW (25 - 4.2), total 24.6 kW
    caps = share_dimming(20.0, {"hp": 8.0, "flow": 25.0, "small": 3.0}, 4.2)
    assert caps["small"] == pytest.approx(3.0)
    assert caps["hp"] == pytest.approx(4.2 + 8.6 * 3.8 / 24.6)
    assert caps["flow"] == pytest.approx(4.2 + 8.6 * 20.8 / 24.6)
    assert sum(caps.values()) == pytest.approx(20.0)


def test_a_limit_below_the_guarantees_keeps_4_2_kw_per_device() -> None:
    assert share_dimming(0.0, {"a": 8.0, "b": 25.0, "c": 3.0}, 4.2) == {
        "a": 4.2,
        "b": 4.2,
        "c": 3.0,
    }


def test_a_limit_above_the_ratings_caps_nothing() -> None:
    assert share_dimming(100.0, {"a": 8.0, "b": 3.0}, 4.2) == {"a": 8.0, "b": 3.0}


@given(
    limit=st.floats(0.0, 200.0),
    ratings=st.dictionaries(st.text(min_size=1, max_size=4), st.floats(0.0, 50.0), max_size=8),
)
def test_shares_keep_the_floor_never_exceed_ratings_and_spend_at_most_the_limit(
    limit: float, ratings: dict[str, float]
) -> None:
    caps = share_dimming(limit, ratings, 4.2)
    assert set(caps) == set(ratings)
    floor = sum(min(r, 4.2) for r in ratings.values())
    for device, rating in ratings.items():
        assert min(rating, 4.2) - 1e-9 <= caps[device] <= rating + 1e-9
    assert sum(caps.values()) <= max(limit, floor) + 1e-6


def test_a_negative_or_infinite_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="expected kW >= 0"):
        share_dimming(-1.0, {"a": 5.0}, 4.2)
    with pytest.raises(ValueError, match="expected kW >= 0"):
        GridLimit(LimitKind.FEED_IN, float("inf"), "api:x")


def test_the_lowest_limit_of_each_kind_is_in_force() -> None:
    limits = [
        GridLimit(LimitKind.DIMMING, 20.0, "control_box:di_1"),
        GridLimit(LimitKind.DIMMING, 12.0, "api:dso#3", T0),
        GridLimit(LimitKind.FEED_IN, 30.0, "api:dso#4", T0),
    ]
    in_force = LimitsInForce.tightest(limits)
    assert in_force.dimming == limits[1]
    assert in_force.feed_in == limits[2]
    assert in_force.as_dict()["dimming"] == {
        "kind": "dimming",
        "limit_kw": 12.0,
        "source": "api:dso#3",
        "until": T0.isoformat(),
    }
    assert not LimitsInForce.tightest([]).any
