"""Freshness limits from each series' own cadence."""

from __future__ import annotations

from energy.web.freshness import STALE_FACTOR_BAD, freshness_limit
from energy.web.settings import WebSettings


def test_a_polled_series_is_late_after_the_stale_limit() -> None:
    settings = WebSettings(stale_after_s=30.0)
    limit = freshness_limit("house-01.battery", "soc_frac", settings)
    assert limit.cadence == "polled"
    assert limit.warn_after_s == 30.0
    assert limit.bad_after_s == STALE_FACTOR_BAD * 30.0


def test_a_derived_slot_series_is_fresh_until_its_next_slot_is_due() -> None:
    settings = WebSettings(stale_after_s=30.0, derived_margin_s=300.0)
    for asset_id, quantity in [
        ("house-01", "load_kw"),
        ("house-01", "heat_demand_kw"),
        ("house-01.pv", "pv_kw"),
        ("weather", "temp_outdoor_c"),
    ]:
        limit = freshness_limit(asset_id, quantity, settings)
        assert limit.cadence == "per slot"
        # stamped with its slot's start, written when the slot ends, replaced a slot later
        assert limit.warn_after_s == 2 * 900 + 300
        assert limit.bad_after_s == 3 * 900 + 300
    # the age seen in a healthy district (a slot derived 8 minutes ago) is fresh
    assert freshness_limit("house-01", "load_kw", settings).warn_after_s > 1380
