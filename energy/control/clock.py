"""The control loop's clock: wall time, or the simulated district's accelerated time.

Every job asks its clock for "now" and never calls `datetime.now` itself, so the same code runs on
real time and on a simulated day that passes in minutes. APScheduler 3.x fires on wall time only;
the choice made here (see docs/operations.md, "Accelerated mode") is to keep APScheduler and scale
its intervals: a job with a site-clock interval of `s` seconds fires every `s / speed` wall seconds
(never below `min_wall_interval_s`), and the job itself reads the simulated time from the clock.
Jobs that must happen once per period (planning once per quarter hour) are idempotent per period
and check the store, so firing them more often than needed is harmless.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "ScaledClock", "WallClock"]


class Clock(Protocol):
    """Time as the platform sees it (UTC-aware) and how fast it runs against the wall."""

    @property
    def speed(self) -> float:
        """Site-clock seconds per wall second (1 for real time)."""
        ...

    def now(self) -> dt.datetime: ...


class WallClock:
    """Real time."""

    speed = 1.0

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ScaledClock:
    """Simulated time: `anchor` at the wall moment `anchor_monotonic`, advancing `speed` x wall.

    Build it from one reading of the simulated district's clock taken in the district's event
    loop, so the platform and the district agree on the time to within the reading's latency.
    """

    def __init__(self, anchor: dt.datetime, speed: float, anchor_monotonic: float | None = None):
        if anchor.tzinfo is None:
            raise ValueError(f"clock anchor must be UTC-aware; found naive {anchor.isoformat()}")
        if not speed > 0:
            raise ValueError(f"clock speed must be positive; found {speed}")
        self._anchor = anchor.astimezone(dt.UTC)
        self._speed = float(speed)
        self._mono = time.monotonic() if anchor_monotonic is None else anchor_monotonic

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> dt.datetime:
        elapsed = time.monotonic() - self._mono
        return self._anchor + dt.timedelta(seconds=elapsed * self._speed)


class ManualClock:
    """A clock tests move by hand (thread-safe)."""

    def __init__(self, start: dt.datetime, speed: float = 1.0):
        if start.tzinfo is None:
            raise ValueError(f"clock start must be UTC-aware; found naive {start.isoformat()}")
        self._now = start.astimezone(dt.UTC)
        self._speed = speed
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when.astimezone(dt.UTC)
