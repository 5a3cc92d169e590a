"""Login rate limit: at most N failed logins per user name and per client address in a window.

State is kept in memory of the serving process: a restart forgets it, and several processes behind
a load balancer would each count on their own. That is acceptable for one control-room server; a
shared limiter would live in the store.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

__all__ = ["LoginRateLimiter"]


class LoginRateLimiter:
    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], dt.datetime]
    ) -> None:
        self.max_failures = max_failures
        self.window = dt.timedelta(seconds=window_s)
        self._clock = clock
        self._failures: dict[str, deque[dt.datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: dt.datetime) -> deque[dt.datetime]:
        times = self._failures[key]
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def blocked(self, keys: Iterable[str]) -> bool:
        """True when any of the keys (e.g. 'user:NAME', 'addr:IP') used up its failures."""
        now = self._clock()
        with self._lock:
            return any(len(self._prune(k, now)) >= self.max_failures for k in keys)

    def retry_after_s(self, keys: Iterable[str]) -> int:
        """Seconds until the oldest counted failure of the blocking keys leaves the window."""
        now = self._clock()
        with self._lock:
            waits = [
                (times[0] + self.window - now).total_seconds()
                for k in keys
                if len(times := self._prune(k, now)) >= self.max_failures
            ]
        return max(1, int(max(waits, default=1)))

    def record_failure(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._failures[key].append(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
