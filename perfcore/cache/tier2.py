"""L2 as the read path sees it: every Redis call guarded, none ever raising.

Each call first asks the circuit breaker; while it is open the call is not
made and the caller behaves as on a miss (so ``fetch()`` and L1 keep serving).
A failure is counted in the namespace's ``l2_errors``, trips the breaker, and
is logged at most once per ``breaker.log_interval_s``; a success closes the
breaker again.  The cross-process fetch lock goes through the same guard:
with Redis unavailable a caller simply fetches without it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from perfcore.cache.backend import BACKEND_ERRORS, RedisBackend
from perfcore.cache.breaker import CircuitBreaker, LogThrottle
from perfcore.cache.codec import CorruptEntry, Entry, decode
from perfcore.cache.lock import FetchLock
from perfcore.cache.stats import NamespaceStats
from perfcore.config import CacheConfig

log = logging.getLogger("perfcore.cache")


class GuardedL2:
    def __init__(self, backend: RedisBackend, config: CacheConfig) -> None:
        self.backend = backend
        self.breaker = CircuitBreaker(
            config.breaker.failure_threshold, config.breaker.reset_after_s
        )
        self.throttle = LogThrottle(config.breaker.log_interval_s)
        self.lock = FetchLock(backend, config.lock) if config.lock.enabled else None

    async def get(self, full: str, stats: NamespaceStats, *, count: bool) -> Entry | None:
        """The decoded entry, or None on a miss, an open breaker, an error or a foreign value."""
        if not self.breaker.allow():
            return None
        try:
            data = await self.backend.get(full)
        except BACKEND_ERRORS as exc:
            self.failed(exc, stats)
            return None
        self.breaker.record_success()
        if data is None:
            if count:
                stats.l2_misses += 1
            return None
        try:
            entry = decode(data)
        except CorruptEntry as exc:
            stats.l2_errors += 1
            if self.throttle.ready():
                log.warning("cache: ignoring %s: %s", full, exc)
            return None
        if count:
            stats.l2_hits += 1
        return entry

    async def set(self, full: str, data: bytes, ttl_ms: int, stats: NamespaceStats) -> None:
        if not self.breaker.allow():
            return
        try:
            await self.backend.set(full, data, ttl_ms)
        except BACKEND_ERRORS as exc:
            self.failed(exc, stats)
        else:
            self.breaker.record_success()

    def failed(self, exc: BaseException, stats: NamespaceStats) -> None:
        stats.l2_errors += 1
        self.breaker.record_failure()
        if self.throttle.ready():
            log.warning(
                "cache: Redis unavailable (%s: %s); serving from memory and fetch "
                "(breaker %s, %d similar messages suppressed)",
                type(exc).__name__,
                exc,
                self.breaker.state,
                self.throttle.suppressed,
            )

    async def lock_acquire(self, name: str, stats: NamespaceStats) -> tuple[str | None, bool]:
        """``(token, contended)``: contended means another process holds the lock.

        With the lock disabled or Redis unavailable: ``(None, False)``, fetch unlocked.
        """
        if self.lock is None or not self.breaker.allow():
            return None, False
        try:
            token = await self.lock.acquire(name)
        except BACKEND_ERRORS as exc:
            self.failed(exc, stats)
            return None, False
        self.breaker.record_success()
        return token, token is None

    async def lock_wait(
        self, name: str, probe: Callable[[], Awaitable[Entry | None]], stats: NamespaceStats
    ) -> tuple[str | None, Entry | None]:
        """Wait for the holder's value or take the lock over; ``(None, None)`` on timeout."""
        assert self.lock is not None
        stats.lock_waits += 1
        try:
            token, found = await self.lock.wait(name, probe)
        except BACKEND_ERRORS as exc:
            self.failed(exc, stats)
            return None, None
        if token is None and found is None:
            stats.lock_timeouts += 1
        return token, found

    async def lock_release(self, name: str, token: str) -> None:
        assert self.lock is not None
        # On failure the lock simply expires after ttl_ms.
        with contextlib.suppress(*BACKEND_ERRORS):
            await self.lock.release(name, token)
