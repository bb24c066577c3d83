"""The cache on a real 3-primary Redis Cluster: pattern invalidation on every node, pub/sub, lock."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as redis_asyncio
from cache_helpers import Source, isolated_config

from perfcore.cache.backend import RedisBackend
from perfcore.cache.lock import FetchLock
from perfcore.cache.manager import CacheManager
from perfcore.config import LockConfig

pytestmark = pytest.mark.cluster


async def _count_per_node(nodes: list[tuple[str, int]], pattern: str) -> dict[int, int]:
    """Keys matching ``pattern`` on each node, read with plain per-node clients."""
    counts: dict[int, int] = {}
    for host, port in nodes:
        client = redis_asyncio.Redis(host=host, port=port)
        try:
            counts[port] = len([k async for k in client.scan_iter(match=pattern, count=500)])
        finally:
            await client.aclose()
    return counts


async def test_pattern_invalidation_reaches_every_primary(
    redis_cluster_url: str, redis_cluster_nodes: list[tuple[str, int]]
) -> None:
    config = isolated_config(redis_cluster_url, scan_batch=16)
    prefix = config.key_prefix
    events, users = Source("e"), Source("u")
    async with CacheManager(config) as cache:
        assert cache.backend.is_cluster
        for i in range(60):
            await cache.get_with_cache(f"e{i}", events, namespace="events")
            await cache.get_with_cache(f"u{i}", users, namespace="users")
        before = await _count_per_node(redis_cluster_nodes, f"{prefix}:events:*")
        assert sum(before.values()) == 60
        assert all(n > 0 for n in before.values()), before  # keys spread over all 3 primaries

        assert await cache.invalidate_pattern("events:*") == 60

        after = await _count_per_node(redis_cluster_nodes, f"{prefix}:events:*")
        assert sum(after.values()) == 0, after
        assert sum((await _count_per_node(redis_cluster_nodes, f"{prefix}:users:*")).values()) == 60
        # L1 lost only the events entries.
        await cache.get_with_cache("u0", users, namespace="users")
        await cache.get_with_cache("e0", events, namespace="events")
    assert users.calls == 60
    assert events.calls == 61


async def test_l2_hits_and_cross_instance_invalidation_on_a_cluster(
    redis_cluster_url: str,
) -> None:
    config = isolated_config(redis_cluster_url)
    async with CacheManager(config) as writer, CacheManager(config) as reader:
        source = Source({"seats": 0})
        await writer.get_with_cache("e1", source, namespace="events")
        assert await reader.get_with_cache("e1", source, namespace="events") == {"seats": 0}
        assert source.calls == 1  # reader hit L2
        assert reader.stats()["l1"]["entries"] == 1

        await writer.invalidate_pattern("events:*")
        started = time.perf_counter()
        while reader.stats()["l1"]["entries"]:
            assert time.perf_counter() - started < 0.1, "L1 not invalidated within 100 ms"
            await asyncio.sleep(0.002)
        source.value = {"seats": 5}
        assert await reader.get_with_cache("e1", source, namespace="events") == {"seats": 5}


async def test_lock_and_single_flight_on_a_cluster(redis_cluster_url: str) -> None:
    backend = RedisBackend.from_url(redis_cluster_url, socket_timeout=1.0)
    lock = FetchLock(backend, LockConfig(enabled=True))
    try:
        name = f"lock:cluster-test:{time.time_ns()}"
        token = await lock.acquire(name)
        assert token is not None and await lock.acquire(name) is None
        assert not await lock.release(name, "other")
        assert await lock.release(name, token)
    finally:
        await backend.aclose()
    config = isolated_config(redis_cluster_url, lock={"enabled": True})
    source = Source("v", delay=0.05)
    async with CacheManager(config) as cache:
        results = await asyncio.gather(
            *(cache.get_with_cache("hot", source, namespace="ns") for _ in range(100))
        )
    assert results == ["v"] * 100 and source.calls == 1
