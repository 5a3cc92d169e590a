"""Levels of the status page's traffic lights and how they combine."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Level", "worst"]


class Level(StrEnum):
    """ok (green), info (green: a normal state worth knowing, such as an inverter asleep at night
    or a job with nothing to do), warn (amber), bad (red), unknown (grey, nothing recorded yet)."""

    INFO = "info"
    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    UNKNOWN = "unknown"


_RANK = {Level.INFO: -1, Level.OK: 0, Level.UNKNOWN: 1, Level.WARN: 2, Level.BAD: 3}


def worst(levels: list[Level]) -> Level:
    """The most severe level; info only when everything is info."""
    return max(levels, key=_RANK.__getitem__) if levels else Level.UNKNOWN
