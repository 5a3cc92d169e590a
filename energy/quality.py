"""Quality of a measured value, stored with every measurement."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Quality"]


class Quality(IntEnum):
    """GOOD: read this cycle and plausible. STALE: the device stopped answering (after N failed
    reads); the value is the last good one and must not be used for control. INVALID: the device
    answered, but the value is outside its physical range or could not be decoded."""

    GOOD = 0
    STALE = 1
    INVALID = 2
