"""The gate's workloads: one benchmarked path each, as ``steps`` repeats of one ``step``.

A factory builds everything the path needs (scenario, parsed schema, a cache
filled from real Redis, an event loop) and returns a :class:`Workload`; only
the repeated ``step`` calls are measured.  Every step of one workload does the
same work, so ``steps`` scales it exactly: the injected-slowdown experiment
adds a fraction of the steps (see :mod:`instructions`).  Inputs are fixed
(seeds, literal observations) so a run does exactly the same work every time.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

REDIS_URL_ENV = "PERFCORE_BENCH_REDIS_URL"
VALUE = {"id": 1042, "name": "Spring product launch", "venue": "Hall B", "seats": 480, "open": True}


@dataclass(frozen=True)
class Workload:
    step: Callable[[], None]
    steps: int


def simulation() -> Workload:
    """The SimPy model with autoscaling: five simulated minutes of the default day."""
    from simulation.run import simulate
    from simulation.scenario import load_scenario

    scenario = load_scenario(None, ["horizon_s=300"])

    def step() -> None:
        assert simulate(scenario).summary()["requests"] > 0

    return Workload(step, steps=4)


def policies() -> Workload:
    """The three scaling policies and the cache TTL/XFetch rules over a fixed day of inputs."""
    from perfcore.cache.policy import l1_expiry, ttl_for, xfetch_possible, xfetch_should_refresh
    from perfcore.config import CacheConfig, ScalingConfig
    from perfcore.scaling.policies import Observation, make_policy

    # A smooth day with a spike: cpu and backlog rise and fall, so every branch is taken.
    load = [0.5 + 0.45 * math.sin(i / 40.0) * (1.8 if 100 < i < 140 else 1.0) for i in range(240)]
    cache_config = CacheConfig()
    namespaces = list(cache_config.namespaces) or ["default"]
    configs = [
        ScalingConfig(policy="seed", baseline_request_rate=100.0),
        ScalingConfig(policy="target-tracking"),
        ScalingConfig(policy="queue-backlog"),
    ]

    def step() -> None:
        for config in configs:
            policy = make_policy(config, baseline_request_rate=100.0)
            replicas = config.min_replicas
            for i, cpu in enumerate(load):
                obs = Observation(
                    now=i * 15.0,
                    current_replicas=replicas,
                    ready_replicas=replicas,
                    cpu=min(1.0, max(0.0, cpu)),
                    memory=0.4,
                    request_rate=200.0 * cpu,
                    queue_backlog=max(0.0, 900.0 * cpu - 300.0),
                )
                replicas = policy.decide(obs).replicas
        for i, cpu in enumerate(load):
            now, expires = float(i), 700.0 + (i % 50)
            xfetch_possible(expires - now, 0.2, 1.0)
            xfetch_should_refresh(now, expires, 0.2, 1.0, 0.05 + 0.9 * (i % 97) / 97)
            l1_expiry(now, expires, 30.0, 0.2, 1.0)
            ttl_for(namespaces[i % len(namespaces)], cache_config, cpu < 0.1)

    return Workload(step, steps=4)


def advisor_analysis() -> Workload:
    """The index advisor's statement analysis (sqlglot) on the platform's slow workload."""
    from perfcore.dbopt.analyze import analyze
    from perfcore.dbopt.refschema import Scale
    from perfcore.dbopt.workload import statements

    columns_of = _reference_columns()
    sqls = [sql for _, sql in statements(Scale(), repeats=1)]

    def step() -> None:
        for sql in sqls:
            analyze(sql, columns_of)

    return Workload(step, steps=4)


def _reference_columns() -> dict[str, list[str]]:
    """Table -> column names of the reference schema, as the advisor's catalog lists them."""
    try:
        from perfcore.platform.schema import metadata
    except ImportError:  # a tree from before the platform description (bench-compare REF=...)
        from perfcore.dbopt.refschema import TABLES

        column = re.compile(r"^\s*(\w+)\s", re.MULTILINE)
        return {table: column.findall(body) for table, body in TABLES.items()}
    return {table.name: [c.name for c in table.columns] for table in metadata.sorted_tables}


def drive(make: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run a coroutine that never suspends (an L1 hit) to completion, without an event loop."""

    def run() -> None:
        coro = make()
        try:
            coro.send(None)
        except StopIteration:
            return
        coro.close()
        raise AssertionError("the benchmarked coroutine suspended: not a memory hit")

    return run


def _filled_cache(loop: asyncio.AbstractEventLoop) -> Any:
    from perfcore.cache.manager import CacheManager
    from perfcore.config import CacheConfig

    config = CacheConfig(
        redis_url=os.environ[REDIS_URL_ENV],
        key_prefix="gate" + uuid.uuid4().hex[:8],
        default_ttl_s=3600,
        l1={"max_ttl_s": 3600},
    )
    cache = CacheManager(config, listen=False)

    async def fetch() -> dict[str, Any]:
        return VALUE

    loop.run_until_complete(cache.get_with_cache("event:1042", fetch, namespace="events"))
    return cache


async def _no_fetch() -> Any:
    raise AssertionError("a cache hit was expected")


def cache_l1() -> Workload:
    """``await get_with_cache`` served from memory (L1), 2,000 lookups per step."""
    cache = _filled_cache(asyncio.new_event_loop())

    async def lookups() -> None:
        get = cache.get_with_cache
        for _ in range(2_000):
            await get("event:1042", _no_fetch, namespace="events")

    return Workload(drive(lookups), steps=4)


def ttlcache_l1() -> Workload:
    """The L1 baseline: a ``cachetools.TTLCache`` lookup in the same coroutine loop."""
    import cachetools

    ttl_cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=10_000, ttl=3600)
    ttl_cache["event:1042"] = VALUE

    async def lookups() -> None:
        for _ in range(2_000):
            ttl_cache["event:1042"]

    return Workload(drive(lookups), steps=4)


def cache_l2() -> Workload:
    """``get_with_cache(use_memory=False)`` on a key in real Redis, 50 hits per step."""
    loop = asyncio.new_event_loop()
    cache = _filled_cache(loop)

    async def gets() -> None:
        for _ in range(50):
            await cache.get_with_cache(
                "event:1042", _no_fetch, namespace="events", use_memory=False
            )

    loop.run_until_complete(gets())  # connect outside the measurement
    return Workload(lambda: loop.run_until_complete(gets()), steps=4)


def redis_get() -> Workload:
    """The L2 baseline: a raw ``redis.asyncio`` GET of a key in the same Redis, 50 per step."""
    import redis.asyncio as redis_asyncio

    loop = asyncio.new_event_loop()
    client = redis_asyncio.Redis.from_url(os.environ[REDIS_URL_ENV])
    key = "gate" + uuid.uuid4().hex[:8]
    loop.run_until_complete(client.set(key, b"x" * 120, ex=3600))

    async def gets() -> None:
        for _ in range(50):
            assert await client.get(key) is not None

    loop.run_until_complete(gets())
    return Workload(lambda: loop.run_until_complete(gets()), steps=4)


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "simulation": simulation,
    "policies": policies,
    "advisor_analysis": advisor_analysis,
    "cache_l1": cache_l1,
    "ttlcache_l1": ttlcache_l1,
    "cache_l2": cache_l2,
    "redis_get": redis_get,
}
# Which workloads talk to Redis (the parent passes the stack's URL to those).
REDIS_BACKED = frozenset({"cache_l1", "cache_l2", "redis_get"})
