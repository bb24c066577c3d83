"""A sliding-window limit per key: at most ``limit`` events in any ``window_s`` seconds.

The export endpoint uses it per event, so one organizer cannot queue an
unbounded number of registrant exports. It counts per process: with
``serve --workers N`` the deployment-wide bound is N times the limit.

    >>> clock = iter([0.0, 1.0, 2.0, 61.5]).__next__
    >>> gate = RateLimit(2, 60.0, clock=clock)
    >>> [gate.allow("e1") for _ in range(4)]
    [True, True, False, True]
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable


class RateLimit:
    def __init__(
        self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._seen: defaultdict[Hashable, deque[float]] = defaultdict(deque)

    def allow(self, key: Hashable) -> bool:
        """Count one event for ``key`` if the window has room; False when it has none."""
        now, seen = self.clock(), self._seen[key]
        while seen and seen[0] <= now - self.window_s:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True
