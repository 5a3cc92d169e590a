"""Quality of a measured value, stored with every measurement."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["USABLE", "Quality"]


class Quality(IntEnum):
    """GOOD: read this cycle and plausible. STALE: the device stopped answering (after N failed
    reads); the value is the last good one and must not be used for control. INVALID: the device
    answered, but the value is outside its physical range or could not be decoded."""

    GOOD = 0
    STALE = 1
    INVALID = 2
    SUBSTITUTED = 3
    """A derived value (energy.control.derived) one of whose inputs was missing for a known,
    normal reason and stood in for by its known value: a PV inverter silent while the sun is
    down produces 0 kW. Used like GOOD for learning, told apart in the store and on the pages."""


USABLE = frozenset({Quality.GOOD, Quality.SUBSTITUTED})
"""Qualities whose values forecasters learn from and derived series are computed from."""
