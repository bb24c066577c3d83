"""Degraded mode: a circuit breaker in front of Redis and a log throttle.

When Redis is down or slow every call would otherwise wait for a timeout.
After ``failure_threshold`` consecutive failures the breaker *opens* and the
cache skips L2 entirely (L1 and ``fetch`` still serve callers).  After
``reset_after_s`` one trial call is let through (*half-open*); success closes
the breaker, failure re-opens it.  Time comes from an injected clock so the
state machine is testable without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_after_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        # When the half-open trial started; a trial that never reports back
        # (cancelled caller) expires after reset_after_s so L2 is retried.
        self._trial_at: float | None = None
        self.opened_count = 0

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._trial_at is not None or self._clock() - self._opened_at >= self.reset_after_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """Whether a call to Redis may be attempted now."""
        if self._opened_at is None:
            return True
        now = self._clock()
        if self._trial_at is not None and now - self._trial_at < self.reset_after_s:
            return False  # one trial at a time while half-open
        if now - self._opened_at >= self.reset_after_s:
            self._trial_at = now
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_at is not None:  # the trial failed: stay open for another period
            self._opened_at = self._clock()
            self._trial_at = None
        elif self._opened_at is None and self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self.opened_count += 1


class LogThrottle:
    """Allows one message per ``interval_s``; counts what it suppressed."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def ready(self) -> bool:
        now = self._clock()
        if self._last is None or now - self._last >= self.interval_s:
            self._last = now
            return True
        self.suppressed += 1
        return False
