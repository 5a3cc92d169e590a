"""Batteries as one vectorised bank: state of charge, limits, efficiencies and energy accounts.

Sign convention: power into a battery (charging, AC side) is positive.

Per step of dt_h hours with AC power p (kW):
- charging stores p x charge_efficiency; discharging removes |p| / discharge_efficiency;
- the conversion losses are the difference between the AC energy and the stored energy change;
- standby loss: standby_loss_frac_per_h of the stored energy per hour (self-discharge, pumps);
- power is limited by the power ratings and so that the stored energy stays within
  [soc_min_frac, soc_max_frac] x capacity (standby loss alone may take it below the minimum).

Energy accounts per battery (kWh) satisfy, up to rounding:
charged - discharged = (energy - initial_energy) + conversion_loss + standby_loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from energy.config import BatteryConfig

__all__ = ["BatteryBank"]

FloatArray = npt.NDArray[np.float64]


class BatteryBank:
    """State and step of a set of batteries; every attribute array has one entry per battery."""

    def __init__(self, ids: Sequence[str], configs: Sequence[BatteryConfig]):
        if len(ids) != len(configs):
            raise ValueError(f"BatteryBank: {len(ids)} ids but {len(configs)} configs")
        self.ids = tuple(ids)

        def column(name: str) -> FloatArray:
            return np.array([float(getattr(c, name)) for c in configs], dtype=float)

        self.capacity_kwh = column("capacity_kwh")
        self.charge_max_kw = column("charge_max_kw")
        self.discharge_max_kw = column("discharge_max_kw")
        self.charge_efficiency = column("charge_efficiency_frac")
        self.discharge_efficiency = column("discharge_efficiency_frac")
        self.standby_loss_frac_per_h = column("standby_loss_frac_per_h")
        self.energy_min_kwh = column("soc_min_frac") * self.capacity_kwh
        self.energy_max_kwh = column("soc_max_frac") * self.capacity_kwh
        self.energy_kwh = column("initial_soc_frac") * self.capacity_kwh
        self.initial_energy_kwh = self.energy_kwh.copy()
        n = len(self.ids)
        self.power_kw = np.zeros(n)
        self.charged_kwh = np.zeros(n)
        self.discharged_kwh = np.zeros(n)
        self.conversion_loss_kwh = np.zeros(n)
        self.standby_loss_kwh = np.zeros(n)
        self.neg_discharge_max_kw = -self.discharge_max_kw
        self.inverse_discharge_efficiency = 1.0 / self.discharge_efficiency
        self._factors_dt_h = float("nan")
        self._dt_factors = (np.zeros(n), np.zeros(n), np.zeros(n))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def soc_frac(self) -> FloatArray:
        return self.energy_kwh / self.capacity_kwh

    def _factors(self, dt_h: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per-step constants for a step length (steps mostly share one length)."""
        if self._factors_dt_h != dt_h:
            self._factors_dt_h = dt_h
            self._dt_factors = (
                1.0 / (self.charge_efficiency * dt_h),
                self.discharge_efficiency / dt_h,
                self.standby_loss_frac_per_h * dt_h,
            )
        return self._dt_factors

    def clamp(self, target_kw: FloatArray, dt_h: float) -> FloatArray:
        """The power each battery can actually take (charging > 0) during the next dt_h hours."""
        per_room, per_spare, _ = self._factors(dt_h)
        room_kw = np.maximum((self.energy_max_kwh - self.energy_kwh) * per_room, 0.0)
        spare_kw = np.maximum((self.energy_kwh - self.energy_min_kwh) * per_spare, 0.0)
        upper = np.minimum(self.charge_max_kw, room_kw)
        lower = np.maximum(self.neg_discharge_max_kw, -spare_kw)
        return np.minimum(np.maximum(target_kw, lower), upper)

    def apply(self, target_kw: FloatArray, dt_h: float) -> FloatArray:
        """Run every battery at its target (clamped) for dt_h hours; returns the actual power."""
        power = self.clamp(target_kw, dt_h)
        charge = np.maximum(power, 0.0) * dt_h
        discharge = charge - power * dt_h
        stored = charge * self.charge_efficiency - discharge * self.inverse_discharge_efficiency
        self.energy_kwh += stored
        standby = self.energy_kwh * self._dt_factors[2]
        self.energy_kwh -= standby
        self.charged_kwh += charge
        self.discharged_kwh += discharge
        self.conversion_loss_kwh += charge - discharge - stored
        self.standby_loss_kwh += standby
        self.power_kw = power
        return power
