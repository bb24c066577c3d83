"""The cache's Redis round trips as the service sees them: ``perfcore_cache_l2_duration_seconds``.

A :class:`RedisBackend` that times ``get``, ``set`` and ``unlink`` (the
commands on a request's path) into a histogram per operation, so calibration
reads the L2 round trip from the server's own metrics instead of guessing it.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram

from perfcore.cache.backend import RedisBackend
from perfcore.config import CacheConfig
from perfcore.service.metrics import LATENCY_BUCKETS


class TimedRedisBackend(RedisBackend):
    """RedisBackend whose request-path commands are timed."""

    histogram: Histogram

    async def get(self, key: str) -> bytes | None:
        started = time.perf_counter()
        try:
            return await super().get(key)
        finally:
            self.histogram.labels("get").observe(time.perf_counter() - started)

    async def set(self, key: str, data: bytes, ttl_ms: int) -> None:
        started = time.perf_counter()
        try:
            await super().set(key, data, ttl_ms)
        finally:
            self.histogram.labels("set").observe(time.perf_counter() - started)

    async def unlink(self, *keys: str) -> int:
        started = time.perf_counter()
        try:
            return await super().unlink(*keys)
        finally:
            self.histogram.labels("unlink").observe(time.perf_counter() - started)


def l2_histogram(registry: CollectorRegistry) -> Histogram:
    """The histogram, once per app (a registry refuses a second one of the same name)."""
    return Histogram(
        "perfcore_cache_l2_duration_seconds",
        "Cache Redis command time seen by the service",
        ["op"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )


def timed_backend(config: CacheConfig, histogram: Histogram) -> TimedRedisBackend:
    """The cache's backend for ``config.redis_url``, timed into ``histogram``."""
    backend = TimedRedisBackend.from_url(
        config.redis_url,
        socket_timeout=config.socket_timeout_s,
        max_connections=config.max_connections,
    )
    assert isinstance(backend, TimedRedisBackend)
    backend.histogram = histogram
    return backend
