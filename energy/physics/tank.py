"""Hot-water/buffer tanks as one vectorised bank: a fully mixed energy balance with accounts.

Per step of dt_h hours: C dT = (heat_in - draw_off - loss) dt_h with C = tank_capacity_kwh_per_k
(energy.thermal) and loss = loss_w_per_k x (T - ambient) / 1000 (negative when the tank is colder
than the room). The house's heat demand is drawn off in full as long as the tank holds heat above
room temperature; what it cannot deliver is counted as unserved heat. A tank below temp_min_c is a
comfort violation, counted in kelvin-hours (K x h below the minimum), never clipped away.

Energy accounts (kWh) satisfy heat_in = (stored - initial_stored) + draw_off + losses, where
stored = C x (T - ambient) is the heat recoverable down to room temperature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from energy.config import TankConfig
from energy.thermal import tank_capacity_kwh_per_k

__all__ = ["TankBank"]

FloatArray = npt.NDArray[np.float64]


class TankBank:
    """State and step of a set of tanks; every attribute array has one entry per tank."""

    def __init__(
        self, ids: Sequence[str], configs: Sequence[TankConfig], initial_temp_c: Sequence[float]
    ):
        self.ids = tuple(ids)
        self.capacity_kwh_per_k = np.array([tank_capacity_kwh_per_k(c.volume_l) for c in configs])
        self.temp_min_c = np.array([c.temp_min_c for c in configs], dtype=float)
        self.temp_max_c = np.array([c.temp_max_c for c in configs], dtype=float)
        self.loss_kw_per_k = np.array([c.loss_w_per_k / 1000.0 for c in configs], dtype=float)
        self.ambient_temp_c = np.array([c.ambient_temp_c for c in configs], dtype=float)
        self.temp_c = np.array(initial_temp_c, dtype=float)
        self.initial_stored_kwh = self.stored_kwh.copy()
        n = len(self.ids)
        self.heat_in_kwh = np.zeros(n)
        self.draw_off_kwh = np.zeros(n)
        self.losses_kwh = np.zeros(n)
        self.unserved_heat_kwh = np.zeros(n)
        self.comfort_violation_kh = np.zeros(n)
        self.draw_off_kw = np.zeros(n)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def stored_kwh(self) -> FloatArray:
        """Heat above room temperature, kWh."""
        return self.capacity_kwh_per_k * (self.temp_c - self.ambient_temp_c)

    def loss_kw(self) -> FloatArray:
        return self.loss_kw_per_k * (self.temp_c - self.ambient_temp_c)

    def headroom_kw(self, dt_h: float, demand_kw: FloatArray) -> FloatArray:
        """Largest heat input that keeps every tank at or below temp_max_c after dt_h hours."""
        room_kwh = (self.temp_max_c - self.temp_c) * self.capacity_kwh_per_k
        return np.maximum(room_kwh / dt_h + demand_kw + self.loss_kw(), 0.0)

    def step(self, heat_in_kw: FloatArray, demand_kw: FloatArray, dt_h: float) -> None:
        """Advance every tank by dt_h hours with the given heat input and heat demand."""
        loss = self.loss_kw() * dt_h
        heat_in = heat_in_kw * dt_h
        available = np.maximum(self.stored_kwh + heat_in - loss, 0.0)
        wanted = demand_kw * dt_h
        draw = np.minimum(wanted, available)
        self.temp_c += (heat_in - draw - loss) / self.capacity_kwh_per_k
        self.heat_in_kwh += heat_in
        self.draw_off_kwh += draw
        self.losses_kwh += loss
        self.unserved_heat_kwh += wanted - draw
        self.comfort_violation_kh += np.maximum(self.temp_min_c - self.temp_c, 0.0) * dt_h
        self.draw_off_kw = draw / dt_h
