"""How old a series may be before the status page calls it late: from the series' own cadence.

A polled series is expected every few seconds: amber after `WebSettings.stale_after_s`, red after
STALE_FACTOR_BAD times that. A derived series (energy.control.derived) is written once per slot,
stamped with the start of the slot that has just finished: its newest value is a slot old when
written and is replaced a slot later, so it is fresh until the next slot is due (two slots) plus
`WebSettings.derived_margin_s`, and red once a further slot is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from energy.control.derived import is_derived
from energy.quality import Quality
from energy.timegrid import SLOT
from energy.web.levels import Level
from energy.web.settings import WebSettings

__all__ = ["STALE_FACTOR_BAD", "FreshnessLimit", "age_level", "freshness_limit"]

STALE_FACTOR_BAD = 5.0
"""A polled value older than this many stale_after_s periods is red, not amber."""

_SLOT_S = SLOT.total_seconds()


@dataclass(frozen=True)
class FreshnessLimit:
    warn_after_s: float
    bad_after_s: float
    cadence: str
    """how the series is written, for the page: 'polled' or 'per slot'"""


def freshness_limit(asset_id: str, quantity: str, settings: WebSettings) -> FreshnessLimit:
    if is_derived(asset_id, quantity):
        fresh_s = 2 * _SLOT_S + settings.derived_margin_s
        return FreshnessLimit(fresh_s, fresh_s + _SLOT_S, "per slot")
    return FreshnessLimit(
        settings.stale_after_s, STALE_FACTOR_BAD * settings.stale_after_s, "polled"
    )


def age_level(age_s: float, quality: int, limit: FreshnessLimit) -> Level:
    """A value's level from its age and quality: red when stale, amber when late or invalid."""
    if quality == Quality.STALE or age_s > limit.bad_after_s:
        return Level.BAD
    if quality == Quality.INVALID or age_s > limit.warn_after_s:
        return Level.WARN
    return Level.OK
