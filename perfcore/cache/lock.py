"""Cross-process stampede lock: one process fetches, the others wait and then read.

The lock is redis-py's (:class:`redis.asyncio.lock.Lock`, through the
backend): acquire is ``SET lock-key token NX PX ttl`` with a random token,
release a Lua compare-and-delete, so a process whose lock already expired can
never delete the lock a successor now holds.  Waiters poll a *probe* (normally an
L2 read) and, on each poll, try to take the lock themselves: if the holder
crashed (lock expired) or its fetch failed (lock released, no value), one
waiter takes over instead of everyone waiting out the timeout.  The wait is
bounded; on timeout the caller fetches without the lock.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from perfcore.cache.backend import RedisBackend
from perfcore.config import LockConfig

T = TypeVar("T")


class FetchLock:
    def __init__(self, backend: RedisBackend, config: LockConfig) -> None:
        self._backend = backend
        self.ttl_ms = config.ttl_ms
        self.wait_s = config.wait_timeout_ms / 1000
        self.poll_s = config.poll_interval_ms / 1000

    async def acquire(self, key: str) -> str | None:
        """The token if this caller now holds ``key``, else None."""
        token = secrets.token_hex(16)
        return token if await self._backend.acquire_lock(key, token, self.ttl_ms) else None

    async def release(self, key: str, token: str) -> bool:
        """Release ``key`` if it still holds ``token``; False if it expired or moved on."""
        return await self._backend.release_lock(key, token)

    async def wait(
        self, key: str, probe: Callable[[], Awaitable[T | None]]
    ) -> tuple[str | None, T | None]:
        """Poll until ``probe()`` yields a value or the lock can be taken over.

        Returns ``(None, value)`` when the value appeared, ``(token, None)`` when
        this caller took the lock, and ``(None, None)`` when the wait timed out.
        """
        deadline = time.monotonic() + self.wait_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, None
            await asyncio.sleep(min(self.poll_s, remaining))
            found = await probe()
            if found is not None:
                return None, found
            token = await self.acquire(key)
            if token is not None:
                return token, None
