"""Drive a DistrictSimulator from the wall clock, at any speed.

Simulated time = simulated start + speed x elapsed wall time (monotonic clock). `sync()` advances the
simulator to that time and can be called from anywhere (a scheduler job, a request handler); `run()`
is a loop for a dedicated thread. Commands from other threads interleave safely because every
simulator method takes its lock; a sync holds the lock only for the steps it has to catch up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pandas as pd

from energy.physics.district import DistrictSimulator

__all__ = ["SimulationClock"]

logger = logging.getLogger(__name__)


class SimulationClock:
    """Maps wall time onto simulated time for one simulator (speed 1.0 = real time)."""

    def __init__(self, simulator: DistrictSimulator, speed: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic):  # fmt: skip
        if not speed > 0:
            raise ValueError(f"clock speed must be positive; found {speed}")
        self.simulator = simulator
        self.speed = float(speed)
        self._monotonic = monotonic
        self._wall_start = monotonic()
        self._sim_start = simulator.now

    def target(self) -> pd.Timestamp:
        """The simulated time that corresponds to the wall clock now."""
        elapsed_s = (self._monotonic() - self._wall_start) * self.speed
        return self._sim_start + pd.Timedelta(seconds=elapsed_s)

    def sync(self) -> pd.Timestamp:
        """Advance the simulator to the wall clock's simulated time; returns the new time."""
        target = self.target()
        if target > self.simulator.now:
            self.simulator.advance_to(target)
        return self.simulator.now

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Sync every interval_s wall seconds until `stop` is set (run it in its own thread)."""
        logger.info("simulation clock running at %gx from %s", self.speed, self._sim_start)
        while not stop.is_set():
            self.sync()
            stop.wait(interval_s)
