"""Embedded defaults for ``perfcore serve`` without a cache Redis: an in-process L2 store.

When no cache Redis is configured (and none answers at the default URL), the
service keeps working: the cache's L2 is this process's memory
(:class:`LocalBackend`, same TTLs, same single-flight locks), invalidations
apply to this process only, and exports run in process. That is exact for one
server process; several processes would serve each other's stale values, so
``serve --workers N`` needs a Redis (:func:`perfcore.service.deploy.plan_deployment`).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import AsyncIterator
from typing import Any

from perfcore.cache.backend import RedisBackend
from perfcore.cache.manager import CacheManager
from perfcore.config import CacheConfig


class LocalBackend(RedisBackend):
    """The subset of Redis the cache uses, in a dict with millisecond expiry."""

    def __init__(self) -> None:  # no client, no connection gate: nothing to wait for
        self.is_cluster = False
        self._data: dict[str, tuple[bytes, float]] = {}

    def _live(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item[0]

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, data: bytes, ttl_ms: int) -> None:
        self._data[key] = (data, time.monotonic() + ttl_ms / 1000.0)

    async def unlink(self, *keys: str) -> int:
        return sum(self._data.pop(k, None) is not None for k in keys)

    async def scan(self, pattern: str, batch: int) -> AsyncIterator[list[str]]:
        found = [k for k in list(self._data) if fnmatch.fnmatchcase(k, pattern)]
        for i in range(0, len(found), batch):
            yield found[i : i + batch]

    async def delete_matching(self, pattern: str, batch: int) -> int:
        return await self.unlink(*[k for k in list(self._data) if fnmatch.fnmatchcase(k, pattern)])

    async def set_nx(self, key: str, token: str, ttl_ms: int) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, token.encode(), ttl_ms)
        return True

    async def delete_if_equals(self, key: str, token: str) -> bool:
        if self._live(key) == token.encode():
            del self._data[key]
            return True
        return False

    async def publish(self, channel: str, message: bytes) -> None:
        return None  # one process: the invalidation was applied locally already

    async def pubsub(self) -> Any:
        raise RuntimeError("the embedded cache has no pub/sub (one process)")

    def primaries(self) -> list[str]:
        return ["embedded"]

    async def info(self) -> dict[str, dict[str, Any]]:
        return {"embedded": {"keys": len(self._data)}}

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._data.clear()


def embedded_cache(config: CacheConfig) -> CacheManager:
    """A cache manager on :class:`LocalBackend`, without the cross-process invalidation bus."""
    return CacheManager(config, backend=LocalBackend(), listen=False)
