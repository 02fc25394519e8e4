"""Notice when Redis is down, stop paying for it on every call, and notice when it is back — without a restart.

A small circuit breaker: after a failure, callers skip Redis (and use their fallback) for `retry_s`; then one
call is let through as a probe, and its success closes the circuit again. Transitions are logged once each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class RedisWatch:
    def __init__(self, retry_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self.outages = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def usable(self) -> bool:
        """True when Redis is believed up, or when it is time for one probe."""
        with self._lock:
            if self._down_since is None:
                return True
            now = self._clock()
            if now >= self._next_probe:
                self._next_probe = now + self.retry_s
                return True
            return False

    def failed(self, error: BaseException) -> None:
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = self._clock()
                self.outages += 1
            self._next_probe = self._clock() + self.retry_s
        if first:
            log.warning(
                "redis unavailable: degraded mode (jobs run in this process, no cache, no memory)",
                extra={"error": type(error).__name__},
            )

    def ok(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.warning("redis reachable again: normal mode", extra={"outage_s": round(self._clock() - since, 1)})
