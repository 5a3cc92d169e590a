"""The tanks' anti-legionella programs as the heat pumps' local controllers run them.

From each scheduled start (`energy.legionella.legionella_starts_utc`) a program is active: its
unit is forced to heat while the tank is below the program's temperature, whatever the commands
say (only the grid operator's cap still applies), until the tank has been within tolerance_k of
that temperature for hold_minutes in all (completed), or give_up_hours have passed (missed).
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import LegionellaConfig
from energy.legionella import legionella_starts_utc

__all__ = ["HygienePrograms"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_US_PER_MIN = 60_000_000
#: How far ahead the schedule is laid out at a time.
_HORIZON = pd.Timedelta(days=56)


class HygienePrograms:
    """One program per tank (disabled ones never run); times in microseconds since the epoch."""

    def __init__(self, configs: Sequence[LegionellaConfig], tz: ZoneInfo, start_us: int):
        self.configs = tuple(configs)
        self._tz = tz
        n = len(self.configs)
        self.temp_c = np.array([c.temp_c for c in self.configs], dtype=float)
        self._hold_us = np.array([c.hold_minutes * _US_PER_MIN for c in self.configs])
        self._give_up_us = np.array(
            [int(c.give_up_hours * 60 * _US_PER_MIN) for c in self.configs], dtype=np.int64
        )
        self._floor_c = self.temp_c - np.array([c.tolerance_k for c in self.configs])
        self.active = np.zeros(n, dtype=bool)
        self._started_us = np.zeros(n, dtype=np.int64)
        self._held_us = np.zeros(n, dtype=np.int64)
        self.completed = np.zeros(n, dtype=np.int64)
        self.missed = np.zeros(n, dtype=np.int64)
        self._schedule: list[list[int]] = [[] for _ in range(n)]
        self._scheduled_until_us = start_us
        self._extend(start_us)

    def _extend(self, now_us: int) -> None:
        begin = pd.Timestamp(self._scheduled_until_us * 1000, tz="UTC")
        end = pd.Timestamp(now_us * 1000, tz="UTC") + _HORIZON
        for k, config in enumerate(self.configs):
            starts = legionella_starts_utc(config, self._tz, begin, end)
            self._schedule[k] += [int(t.value // 1000) for t in starts]
        self._scheduled_until_us = int(end.value // 1000)

    def step(self, now_us: int, dt_us: int, tank_temp_c: FloatArray) -> BoolArray:
        """Advance the programs over [now, now + dt) and return which units must heat."""
        if now_us >= self._scheduled_until_us:
            self._extend(now_us)
        for k, schedule in enumerate(self._schedule):
            if schedule and schedule[0] <= now_us:
                schedule.pop(0)
                if self.active[k]:
                    self.missed[k] += 1
                self.active[k] = True
                self._started_us[k] = now_us
                self._held_us[k] = 0
        if not self.active.any():
            return self.active
        holding = self.active & (tank_temp_c >= self._floor_c)
        self._held_us += np.where(holding, dt_us, 0)
        done = self.active & (self._held_us >= self._hold_us)
        late = self.active & ~done & (now_us + dt_us - self._started_us >= self._give_up_us)
        self.completed += done
        self.missed += late
        self.active &= ~(done | late)
        return self.active & (tank_temp_c < self.temp_c)
