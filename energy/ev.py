"""EV charging sessions on the slot grid: when a car is plugged in, when a session's energy
arrives as a need, and the slot by whose end it is due.

One function shared by the optimizer (its energy-by-departure rows) and the simulator (the car
at the charger), so that the plan and the plant see the same car. Sessions are local wall-clock
times (`energy.config.ChargingSession`); slots are UTC `[t, t + 15 min)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import EVChargerConfig
from energy.legionella import minute_of_week
from energy.timegrid import SLOT_MINUTES

__all__ = ["SessionMarks", "session_marks"]

_WEEK_MINUTES = 7 * 1440


@dataclass(frozen=True)
class SessionMarks:
    """Per slot of an index: the car plugged in over the slot, the energy (kWh into the car)
    whose need starts with the slot (a session arriving at its start), and whether a
    session departs at the slot's end (its energy due by then)."""

    plugged: npt.NDArray[np.bool_]
    arrival_kwh: npt.NDArray[np.float64]
    departs: npt.NDArray[np.bool_]


def session_marks(config: EVChargerConfig, index: pd.DatetimeIndex, tz: ZoneInfo) -> SessionMarks:
    """The sessions of a charger on the slots of `index` (UTC slot starts), by the local clock."""
    minutes = minute_of_week(index, tz)
    n = len(index)
    plugged = np.zeros(n, dtype=bool)
    arrival = np.zeros(n)
    departs = np.zeros(n, dtype=bool)
    for session in config.sessions:
        for start, end in session.intervals_minute_of_week():
            since_arrival = (minutes - start) % _WEEK_MINUTES
            duration = end - start
            plugged |= since_arrival < duration
            arrival += np.where(since_arrival == 0, session.energy_kwh, 0.0)
            departs |= since_arrival == duration - SLOT_MINUTES
    return SessionMarks(plugged, arrival, departs)
