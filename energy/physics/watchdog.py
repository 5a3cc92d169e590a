"""Externally written setpoints that expire: the device side of the platform's safety rule 1.

A `SetpointRegister` holds one setpoint per device of a bank together with its expiry time. A write
or a heartbeat keeps the setpoint alive for the device's watchdog timeout; once the timeout passes
without renewal, the setpoint is no longer valid and the device returns to its local mode. Times are
integer microseconds of simulated time, so expiry is exact and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["NEVER", "SetpointRegister"]

#: Expiry time of a register slot that holds no setpoint.
NEVER = np.iinfo(np.int64).min
_US_PER_S = 1_000_000


class SetpointRegister:
    """Setpoints with expiry for n devices; `values` are meaningful only where `valid(now)`."""

    def __init__(self, timeouts_s: Sequence[float], fill: float = 0.0):
        self.timeouts_us = np.array([round(t * _US_PER_S) for t in timeouts_s], dtype=np.int64)
        if (self.timeouts_us <= 0).any():
            raise ValueError(f"watchdog timeouts must be positive; found {list(timeouts_s)}")
        self.values = np.full(len(self.timeouts_us), fill, dtype=float)
        self.expires_us = np.full(len(self.timeouts_us), NEVER, dtype=np.int64)

    def write(self, index: int, value: float, now_us: int, timeout_s: float | None = None) -> None:
        """Store a setpoint and (re)start its watchdog; timeout_s overrides the device default."""
        if timeout_s is not None:
            if not timeout_s > 0:
                raise ValueError(f"watchdog timeout must be positive; found {timeout_s}")
            self.timeouts_us[index] = round(timeout_s * _US_PER_S)
        self.values[index] = value
        self.expires_us[index] = now_us + self.timeouts_us[index]

    def heartbeat(self, index: int, now_us: int) -> bool:
        """Renew a live setpoint for another timeout; False if there was none to renew."""
        if self.expires_us[index] <= now_us:
            return False
        self.expires_us[index] = now_us + self.timeouts_us[index]
        return True

    def release(self, index: int) -> None:
        self.expires_us[index] = NEVER

    def valid(self, now_us: int) -> npt.NDArray[np.bool_]:
        return self.expires_us > now_us

    def remaining_s(self, index: int, now_us: int) -> float:
        return max(int(self.expires_us[index]) - now_us, 0) / _US_PER_S

    def next_expiry_us(self, now_us: int) -> int | None:
        """The earliest expiry still ahead of now, if any."""
        ahead = self.expires_us[self.expires_us > now_us]
        return int(ahead.min()) if len(ahead) else None
