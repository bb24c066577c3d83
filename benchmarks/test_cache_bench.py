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

Each timed round of ours is paired with a baseline round run just before it
(in pytest-benchmark's untimed setup), and the ratio is the median of the
per-round ratios, so both sides see the same load on a shared machine.  The
baselines also run as their own benchmarks for the table.  Run:
``.venv/bin/pytest benchmarks/test_cache_bench.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
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


class Paired:
    """Times the baseline batch in pytest-benchmark's untimed ``setup`` of each round.

    So every timed round of our side is immediately preceded by one baseline
    round: both see the same machine load, and the ratio is the median of the
    per-round ratios (robust to the bursts of a shared machine).
    """

    def __init__(self, baseline: Callable[[], None]) -> None:
        self._baseline = baseline
        self.times: list[float] = []

    def setup(self) -> None:
        started = time.perf_counter()
        self._baseline()
        self.times.append(time.perf_counter() - started)

    def report(
        self, benchmark: Any, report_ratio: Any, name: str, target: float, batch: int
    ) -> None:
        ours: list[float] = benchmark.stats.stats.data
        base = self.times[-len(ours) :]
        ratio = statistics.median(o / b for o, b in zip(ours, base, strict=True))
        detail = (
            f"per call: ours {statistics.median(ours) / batch * 1e6:.3f} us, baseline "
            f"{statistics.median(base) / batch * 1e6:.3f} us (medians of {len(ours)} paired "
            f"rounds of {batch}); ratio of best rounds {min(ours) / min(base):.2f}"
        )
        report_ratio(name, ratio, target, detail=detail)
        print(f"\n{name}: {ratio:.2f} [{detail}]")


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
def test_l1_baseline_ttlcache(benchmark: Any) -> None:
    benchmark.pedantic(_ttlcache_lookups(), rounds=ROUNDS, iterations=1, warmup_rounds=3)


@pytest.mark.benchmark(group="cache-l1-hit")
def test_l1_hit_get_with_cache(benchmark: Any, cache: CacheManager, report_ratio: Any) -> None:
    paired = Paired(_ttlcache_lookups())
    benchmark.pedantic(_l1_hits(cache), setup=paired.setup, rounds=ROUNDS, warmup_rounds=3)
    paired.report(benchmark, report_ratio, "cache L1 hit / TTLCache lookup", 2.0, L1_BATCH)


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
) -> None:
    benchmark.pedantic(_raw_gets(loop, raw_client, _key(cache)), rounds=ROUNDS, warmup_rounds=3)


@pytest.mark.benchmark(group="cache-l2-hit")
def test_l2_hit_get_with_cache(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    cache: CacheManager,
    raw_client: redis_asyncio.Redis,
    report_ratio: Any,
) -> None:
    paired = Paired(_raw_gets(loop, raw_client, _key(cache)))
    benchmark.pedantic(_l2_hits(loop, cache), setup=paired.setup, rounds=ROUNDS, warmup_rounds=3)
    paired.report(benchmark, report_ratio, "cache L2 hit / raw redis-py GET", 1.25, L2_BATCH)
    assert cache.stats()["namespaces"]["events"]["fetches"] == 1  # only the initial fill
