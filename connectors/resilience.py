"""Reconnect backoff and circuit breaker: the two guards that keep a dead device from slowing others.

Both are plain state machines driven by an injectable monotonic clock, so that they can be tested
without sleeping and shared by the poller and the writer through one DeviceClient.

- `Backoff`: after a failed connect, the next attempt waits initial_s, then twice that, ... up to
  max_s (with optional jitter so that a district's devices do not reconnect in lock-step).
- `CircuitBreaker`: after `failure_threshold` consecutive failed requests the breaker opens and
  requests are refused at once (no bus traffic, no waiting for timeouts) for `open_s` seconds; then
  one trial request is let through (half-open). Success closes it; failure opens it again with the
  open time doubled up to `open_max_s`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Backoff", "BreakerState", "CircuitBreaker", "Clock"]

Clock = Callable[[], float]


@dataclass
class Backoff:
    """Exponential backoff with a cap; `jitter_frac` spreads each delay by up to that fraction."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter_frac: float = 0.0
    clock: Clock = time.monotonic
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempts: int = 0
    next_attempt_at: float = 0.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ValueError(
                "backoff: expected 0 < initial_s <= max_s and factor >= 1; found "
                f"initial_s={self.initial_s}, max_s={self.max_s}, factor={self.factor}"
            )
        if not 0 <= self.jitter_frac < 1:
            raise ValueError(f"backoff: jitter_frac must be in [0, 1), found {self.jitter_frac}")

    def delay_s(self) -> float:
        """The wait that the next failure will impose (before jitter)."""
        return min(self.max_s, self.initial_s * self.factor**self.attempts)

    def ready(self) -> bool:
        """True when a new attempt is allowed now."""
        return self.clock() >= self.next_attempt_at

    def wait_s(self) -> float:
        """Seconds until the next attempt is allowed (0 when it is allowed now)."""
        return max(0.0, self.next_attempt_at - self.clock())

    def failed(self) -> float:
        """Record a failed attempt; returns the delay imposed before the next one."""
        delay = self.delay_s()
        if self.jitter_frac:
            delay *= 1 + self.rng.uniform(-self.jitter_frac, self.jitter_frac)
        self.attempts += 1
        self.next_attempt_at = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.attempts = 0
        self.next_attempt_at = 0.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Closed -> (threshold failures) -> open -> (open_s elapsed) -> half-open -> closed or open."""

    failure_threshold: int = 3
    open_s: float = 10.0
    open_max_s: float = 120.0
    clock: Clock = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    current_open_s: float = 0.0
    trips: int = 0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_s <= 0 or self.open_max_s < self.open_s:
            raise ValueError(
                "circuit breaker: expected failure_threshold >= 1 and 0 < open_s <= open_max_s; "
                f"found {self.failure_threshold}, {self.open_s}, {self.open_max_s}"
            )
        self.current_open_s = self.open_s

    def allow(self) -> bool:
        """May a request go out now? In half-open state exactly one trial is let through."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self.clock() - self.opened_at >= self.current_open_s:
            self.state = BreakerState.HALF_OPEN
            return True
        return False

    def retry_in_s(self) -> float:
        """Seconds until the breaker lets a trial through (0 when closed)."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        return max(0.0, self.opened_at + self.current_open_s - self.clock())

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.current_open_s = self.open_s

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self.current_open_s = min(self.open_max_s, self.current_open_s * 2)
            self._open()
        elif self.state is BreakerState.CLOSED and self.failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = self.clock()
        self.trips += 1
