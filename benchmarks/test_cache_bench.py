"""Cache hit paths against their baselines, side by side in one session.

* L1 hit: ``await cache.get_with_cache(...)`` served from memory vs a
  ``cachetools.TTLCache`` lookup.  Both run as a loop of N lookups inside a
  coroutine, driven with ``coro.send(None)``: an L1 hit never suspends, so no
  event loop is involved and both sides pay the same loop overhead.  What is
  compared is exactly what an async caller pays per lookup: the ``await``
  of our coroutine versus a plain ``TTLCache[key]``.  Target: <= 2x.
* L2 hit: ``get_with_cache(..., use_memory=False)`` on a key present in Redis
  vs a raw ``redis.asyncio`` GET of the same key on the same server, both N
  calls per round in the same event loop, each with its own default-configured
  client.  Target: overhead <= 1.25x.

Both sides are pytest-benchmark benchmarks of their own, and each runs the
other side, untimed, before every timed round (in pytest-benchmark's setup):
A B A B, so both see the same alternation of code and caches and the same
load of a shared machine.  The ratio is the median of ours over the median of
the baseline, both as pytest-benchmark recorded them: the numbers of its table.
Run: ``.venv/bin/pytest benchmarks/test_cache_bench.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import cachetools
import pytest
import redis.asyncio as redis_asyncio
from workloads import VALUE, drive

from perfcore.cache.manager import CacheManager
from perfcore.config import CacheConfig

pytestmark = pytest.mark.redis

L1_BATCH = 2_000
L2_BATCH = 50
ROUNDS = 100


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def cache(loop: asyncio.AbstractEventLoop, redis_cache_url: str) -> Iterator[CacheManager]:
    config = CacheConfig(
        redis_url=redis_cache_url,
        key_prefix="bench" + uuid.uuid4().hex[:8],
        default_ttl_s=3600,
        l1={"max_ttl_s": 3600},
    )
    manager = CacheManager(config, listen=False)

    async def fetch() -> dict[str, Any]:
        return VALUE

    loop.run_until_complete(manager.get_with_cache("event:1042", fetch, namespace="events"))
    yield manager
    loop.run_until_complete(manager.invalidate_pattern("*"))
    loop.run_until_complete(manager.close())


# ---------------------------------------------------------------------- L1


def _ttlcache_lookups() -> Callable[[], None]:
    ttl_cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=10_000, ttl=3600)
    ttl_cache["event:1042"] = VALUE

    async def lookups() -> None:
        for _ in range(L1_BATCH):
            ttl_cache["event:1042"]

    return drive(lookups)


def _l1_hits(cache: CacheManager) -> Callable[[], None]:
    async def fetch() -> dict[str, Any]:
        raise AssertionError("L1 hit expected")

    async def lookups() -> None:
        get = cache.get_with_cache
        for _ in range(L1_BATCH):
            await get("event:1042", fetch, namespace="events")

    return drive(lookups)


@pytest.mark.benchmark(group="cache-l1-hit")
def test_l1_baseline_ttlcache(
    benchmark: Any, cache: CacheManager, recorded: dict[str, Any]
) -> None:
    benchmark.pedantic(_ttlcache_lookups(), setup=_l1_hits(cache), rounds=ROUNDS, warmup_rounds=3)
    recorded[benchmark.name] = benchmark.stats.stats


@pytest.mark.benchmark(group="cache-l1-hit")
def test_l1_hit_get_with_cache(
    benchmark: Any, cache: CacheManager, report_median_ratio: Any
) -> None:
    benchmark.pedantic(_l1_hits(cache), setup=_ttlcache_lookups(), rounds=ROUNDS, warmup_rounds=3)
    report_median_ratio(
        benchmark, "test_l1_baseline_ttlcache", "cache L1 hit / TTLCache lookup", 2.0, per=L1_BATCH
    )


# ---------------------------------------------------------------------- L2


@pytest.fixture(scope="module")
def raw_client(
    loop: asyncio.AbstractEventLoop, redis_cache_url: str
) -> Iterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_cache_url)
    yield client
    loop.run_until_complete(client.aclose())


def _raw_gets(
    loop: asyncio.AbstractEventLoop, client: redis_asyncio.Redis, key: str
) -> Callable[[], None]:
    async def gets() -> None:
        for _ in range(L2_BATCH):
            assert await client.get(key) is not None

    loop.run_until_complete(gets())  # connect outside the measurement
    return lambda: loop.run_until_complete(gets())


def _l2_hits(loop: asyncio.AbstractEventLoop, cache: CacheManager) -> Callable[[], None]:
    async def fetch() -> dict[str, Any]:
        raise AssertionError("L2 hit expected")

    async def gets() -> None:
        for _ in range(L2_BATCH):
            await cache.get_with_cache("event:1042", fetch, namespace="events", use_memory=False)

    loop.run_until_complete(gets())
    return lambda: loop.run_until_complete(gets())


def _key(cache: CacheManager) -> str:
    return f"{cache.config.key_prefix}:events:event:1042"


@pytest.mark.benchmark(group="cache-l2-hit")
def test_l2_baseline_raw_get(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    cache: CacheManager,
    raw_client: redis_asyncio.Redis,
    recorded: dict[str, Any],
) -> None:
    benchmark.pedantic(
        _raw_gets(loop, raw_client, _key(cache)),
        setup=_l2_hits(loop, cache),
        rounds=ROUNDS,
        warmup_rounds=3,
    )
    recorded[benchmark.name] = benchmark.stats.stats


@pytest.mark.benchmark(group="cache-l2-hit")
def test_l2_hit_get_with_cache(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    cache: CacheManager,
    raw_client: redis_asyncio.Redis,
    report_median_ratio: Any,
) -> None:
    benchmark.pedantic(
        _l2_hits(loop, cache),
        setup=_raw_gets(loop, raw_client, _key(cache)),
        rounds=ROUNDS,
        warmup_rounds=3,
    )
    report_median_ratio(
        benchmark, "test_l2_baseline_raw_get", "cache L2 hit / raw redis-py GET", 1.25, per=L2_BATCH
    )
    assert cache.stats()["namespaces"]["events"]["fetches"] == 1  # only the initial fill
