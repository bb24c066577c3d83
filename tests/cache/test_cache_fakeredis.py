"""The cache's own logic over an in-memory Redis (fakeredis): tiers, TTLs, the fetch lock.

Pure unit tests, no server: what is checked is perfcore's bookkeeping (which
tier answers, which TTL is written, who holds the lock), not Redis.  The same
behaviours on the real Redis, Redis Cluster and across processes are in
test_cache_redis.py, test_cache_cluster.py and test_cache_processes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import fakeredis
import pytest
from cache_helpers import FakeClock, Source

from perfcore.cache.backend import RedisBackend
from perfcore.cache.lock import FetchLock
from perfcore.cache.manager import CacheManager
from perfcore.config import CacheConfig, LockConfig

CONFIG = CacheConfig(
    key_prefix="unit",
    default_ttl_s=60,
    l1={"max_ttl_s": 5},
    namespaces={"events": {"ttl_s": 30}},
    lock={"enabled": True, "wait_timeout_ms": 2_000, "poll_interval_ms": 5},
)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def _backend(server: fakeredis.FakeServer) -> RedisBackend:
    return RedisBackend(fakeredis.FakeAsyncRedis(server=server))


@pytest.fixture
async def backend(server: fakeredis.FakeServer) -> AsyncIterator[RedisBackend]:
    backend = _backend(server)
    yield backend
    await backend.aclose()


def _manager(backend: RedisBackend, clock: FakeClock) -> CacheManager:
    # u = 1 makes XFetch refresh only expired values: the tier that answers is deterministic.
    return CacheManager(CONFIG, backend=backend, clock=clock, rng=lambda: 1.0, listen=False)


async def test_a_miss_fills_l2_with_the_namespace_ttl_then_l1_answers(
    backend: RedisBackend,
) -> None:
    clock, source = FakeClock(), Source({"id": 7})
    async with _manager(backend, clock) as cache:
        assert await cache.get_with_cache("e7", source, namespace="events") == {"id": 7}
        assert await cache.get_with_cache("e7", source, namespace="events") == {"id": 7}
        tiers = cache.stats()["tiers"]
    assert source.calls == 1
    assert tiers["l1"]["hits"] == 1 and tiers["l2"]["hits"] == 0
    assert 29_000 < await backend.client.pttl("unit:events:e7") <= 30_000


async def test_an_expired_l1_copy_is_refilled_from_l2_not_fetched(backend: RedisBackend) -> None:
    clock, source = FakeClock(), Source("v")
    async with _manager(backend, clock) as cache:
        await cache.get_with_cache("k", source, namespace="events")
        clock.now += 6  # past l1.max_ttl_s, well before the 30 s L2 entry expires
        assert await cache.get_with_cache("k", source, namespace="events") == "v"
        tiers = cache.stats()["tiers"]
    assert source.calls == 1
    assert tiers["l1"]["hits"] == 0 and tiers["l2"]["hits"] == 1


async def test_invalidate_drops_both_tiers(backend: RedisBackend) -> None:
    clock, source = FakeClock(), Source("v")
    async with _manager(backend, clock) as cache:
        await cache.get_with_cache("k", source, namespace="events")
        assert await cache.invalidate("k", namespace="events")
        assert await backend.client.exists("unit:events:k") == 0
        await cache.get_with_cache("k", source, namespace="events")
    assert source.calls == 2


async def test_lock_release_needs_the_holders_token(backend: RedisBackend) -> None:
    lock = FetchLock(backend, LockConfig(enabled=True, ttl_ms=5_000))
    token = await lock.acquire("lock:k")
    assert token is not None
    assert await lock.acquire("lock:k") is None
    assert 4_000 < await backend.client.pttl("lock:k") <= 5_000
    assert await lock.release("lock:k", "not-the-token") is False
    assert await backend.client.get("lock:k") == token.encode()
    assert await lock.release("lock:k", token) is True
    assert await lock.release("lock:k", token) is False


async def test_a_waiter_takes_the_lock_over_when_the_holder_gives_up(
    backend: RedisBackend,
) -> None:
    lock = FetchLock(backend, LockConfig(enabled=True, wait_timeout_ms=2_000, poll_interval_ms=5))
    holder = await lock.acquire("lock:k")
    assert holder is not None

    async def nothing() -> str | None:
        return None

    waiter = asyncio.create_task(lock.wait("lock:k", nothing))
    await lock.release("lock:k", holder)  # its fetch failed: no value will appear
    token, found = await asyncio.wait_for(waiter, timeout=2)
    assert token is not None and token != holder and found is None


async def test_a_waiter_gives_up_after_the_wait_timeout(backend: RedisBackend) -> None:
    lock = FetchLock(backend, LockConfig(enabled=True, wait_timeout_ms=50, poll_interval_ms=5))
    assert await lock.acquire("lock:k") is not None

    async def nothing() -> str | None:
        return None

    assert await asyncio.wait_for(lock.wait("lock:k", nothing), timeout=2) == (None, None)


async def test_two_instances_sharing_redis_fetch_a_hot_key_once(
    server: fakeredis.FakeServer,
) -> None:
    source = Source("v", delay=0.05)
    one, two = _manager(_backend(server), FakeClock()), _manager(_backend(server), FakeClock())
    async with one, two:
        results = await asyncio.gather(
            *(cache.get_with_cache("hot", source, namespace="events") for cache in (one, two))
        )
        waits = one.stats()["namespaces"]["events"]["lock_waits"]
        waits += two.stats()["namespaces"]["events"]["lock_waits"]
    assert results == ["v", "v"] and source.calls == 1 and waits == 1
