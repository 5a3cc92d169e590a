"""EV chargers with their cars as one vectorised bank: sessions, charging power, energy accounts.

Per slot (`begin_slot`): a car whose session departs at the previous slot's end leaves, and
whatever its session still needed is counted short (it stays needed: the car comes back
emptier); a car arriving at the slot's start adds its session's energy to the need (at most the
car's battery). Per step, a plugged car that still needs energy charges at the charger's power:
its external limit while one is valid, else full power (a wallbox's own behaviour), never more
than the remaining need takes.

Powers are AC (grid side, charging positive); the need is energy into the car, which receives
charging_efficiency_frac of the AC energy. A simulation that starts during a session starts with
that car satisfied (its arrival was not seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import EVChargerConfig
from energy.ev import session_marks

__all__ = ["EVChargerBank"]

FloatArray = npt.NDArray[np.float64]


class EVChargerBank:
    """State and step of a set of EV chargers; every array has one entry per charger."""

    def __init__(self, ids: Sequence[str], configs: Sequence[EVChargerConfig], tz: ZoneInfo):
        if len(ids) != len(configs):
            raise ValueError(f"EVChargerBank: {len(ids)} ids but {len(configs)} configs")
        self.ids = tuple(ids)
        self._configs = tuple(configs)
        self._tz = tz
        n = len(ids)
        self.charge_max_kw = np.array([c.charge_max_kw for c in configs], dtype=float)
        self.efficiency_frac = np.array([c.charging_efficiency_frac for c in configs], dtype=float)
        self.vehicle_capacity_kwh = np.array([c.vehicle_capacity_kwh for c in configs], dtype=float)
        self.plugged = np.zeros(n, dtype=bool)
        self.need_kwh = np.zeros(n)
        self.power_kw = np.zeros(n)
        self.session_energy_kwh = np.zeros(n)
        self.energy_kwh = np.zeros(n)
        self.delivered_kwh = np.zeros(n)  # into the cars
        self.short_kwh = np.zeros(n)
        self.departures = np.zeros(n, dtype=np.int64)
        self._departs = np.zeros(n, dtype=bool)

    def __len__(self) -> int:
        return len(self.ids)

    def begin_slot(self, slot_start: pd.Timestamp) -> None:
        """Let the cars of the previous slot's departures go and the slot's arrivals come."""
        leaving = self._departs
        self.short_kwh += np.where(leaving, self.need_kwh, 0.0)
        self.departures += leaving
        index = pd.DatetimeIndex([slot_start])
        marks = [session_marks(c, index, self._tz) for c in self._configs]
        arrival = np.array([float(m.arrival_kwh[0]) for m in marks])
        arriving = arrival > 0
        self.need_kwh = np.where(
            arriving, np.minimum(self.need_kwh + arrival, self.vehicle_capacity_kwh), self.need_kwh
        )
        self.session_energy_kwh = np.where(arriving, 0.0, self.session_energy_kwh)
        self.plugged = np.array([bool(m.plugged[0]) for m in marks], dtype=bool)
        self._departs = np.array([bool(m.departs[0]) for m in marks], dtype=bool)

    def apply(self, limit_kw: FloatArray, dt_h: float) -> FloatArray:
        """Charge for dt_h hours under the given power limits (kW); returns the AC power drawn."""
        room_kw = self.need_kwh / (self.efficiency_frac * dt_h)
        power = np.where(
            self.plugged,
            np.clip(np.minimum(limit_kw, room_kw), 0.0, self.charge_max_kw),
            0.0,
        )
        delivered = power * self.efficiency_frac * dt_h
        self.need_kwh = np.maximum(self.need_kwh - delivered, 0.0)
        self.delivered_kwh += delivered
        self.session_energy_kwh += power * dt_h
        self.energy_kwh += power * dt_h
        self.power_kw = power
        return power

    @property
    def vehicle_state(self) -> npt.NDArray[np.int64]:
        """IEC 61851 state: 0 = A (no vehicle), 1 = B (connected), 2 = C (charging)."""
        return np.where(self.plugged, np.where(self.power_kw > 0, 2, 1), 0).astype(np.int64)
