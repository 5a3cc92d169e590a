"""Frozen values: a point that must vary but has not changed for too long.

Age and quality cannot see a hung device or a gateway serving a cached register image: the
device answers, the values are plausible, only they no longer move. A register map marks the
points that must vary (`frozen_after_s`, optionally `frozen_while` another point's magnitude
exceeds `frozen_while_above`: a battery's state of charge moves only while power flows). Once
such a value is unchanged for `frozen_after_s` seconds with the condition holding, its reading
becomes INVALID with the reason "frozen: ...", so the control loop treats the device as it treats
any input it cannot trust (stale: released to local mode, alarmed).

Time that the condition does not hold does not count: an idle battery's constant state of
charge is not frozen. Times are the reading times (the poller's clock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from connectors.registermap import Point, RegisterMap
from energy.quality import Quality

if TYPE_CHECKING:  # device_client uses this module
    from connectors.device_client import PointReading

__all__ = ["FrozenTracker"]


@dataclass
class _Track:
    value: object
    since: dt.datetime


class FrozenTracker:
    """Per device: remembers since when each watched point holds its value."""

    def __init__(self, register_map: RegisterMap):
        self.watched: list[Point] = [p for p in register_map.points if p.frozen_after_s]
        self._tracks: dict[str, _Track] = {}

    def assess(self, fresh: dict[str, PointReading]) -> dict[str, PointReading]:
        """The fresh readings, with every frozen watched point made INVALID."""
        if not self.watched:
            return fresh
        out = dict(fresh)
        for point in self.watched:
            reading = fresh.get(point.name)
            if reading is None or reading.quality is not Quality.GOOD:
                self._tracks.pop(point.name, None)
                continue
            track = self._tracks.get(point.name)
            if track is None or track.value != reading.value or not self._applies(point, fresh):
                self._tracks[point.name] = _Track(reading.value, reading.read_time)
                continue
            unchanged_s = (reading.read_time - track.since).total_seconds()
            assert point.frozen_after_s is not None
            if unchanged_s >= point.frozen_after_s:
                condition = (
                    f" while |{point.frozen_while}| > {point.frozen_while_above:g}"
                    if point.frozen_while
                    else ""
                )
                out[point.name] = replace(
                    reading,
                    quality=Quality.INVALID,
                    reason=f"frozen: unchanged at {reading.value!r} for {unchanged_s:.0f} s"
                    f"{condition} (limit {point.frozen_after_s:g} s)",
                )
        return out

    @staticmethod
    def _applies(point: Point, fresh: dict[str, PointReading]) -> bool:
        if point.frozen_while is None:
            return True
        other = fresh.get(point.frozen_while)
        if other is None or other.quality is not Quality.GOOD:
            return False
        value = other.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return abs(value) > point.frozen_while_above
