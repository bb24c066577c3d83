"""CacheManager against a real Redis: tiers, falsy values, TTL bounds, XFetch, invalidation, warm-up."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
import redis.asyncio as redis_asyncio
from cache_helpers import ConfigFactory, Source
from prometheus_client import CollectorRegistry, generate_latest

from perfcore.cache.backend import RedisBackend
from perfcore.cache.codec import ValueTooLarge
from perfcore.cache.keys import InvalidKey
from perfcore.cache.lock import FetchLock
from perfcore.cache.manager import CacheManager
from perfcore.cache.metrics import CacheCollector
from perfcore.config import LockConfig

pytestmark = pytest.mark.redis


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.mark.parametrize("value", [0, "", [], {}, False, 0.0])
@pytest.mark.parametrize("use_memory", [True, False])
async def test_falsy_values_are_hits(
    make_config: ConfigFactory, value: Any, use_memory: bool
) -> None:
    source = Source(value)
    async with CacheManager(make_config()) as cache:
        results = [
            await cache.get_with_cache("k", source, namespace="ns", use_memory=use_memory)
            for _ in range(3)
        ]
        stats = cache.stats()["namespaces"]["ns"]
    assert results == [value] * 3
    assert all(type(r) is type(value) for r in results)
    assert source.calls == 1
    tier_hits = stats["l1_hits"] if use_memory else stats["l2_hits"]
    assert tier_hits == 2


async def test_none_is_cached_only_with_negative_caching(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config(namespaces={"neg": {"ttl_s": 300, "negative_ttl_s": 30}})
    plain, negative = Source(None), Source(None)
    async with CacheManager(config) as cache:
        for _ in range(3):
            assert await cache.get_with_cache("k", plain, namespace="plain") is None
            assert await cache.get_with_cache("k", negative, namespace="neg") is None
        assert cache.stats()["namespaces"]["plain"]["not_stored"] == 3
    assert plain.calls == 3
    assert negative.calls == 1
    prefix = config.key_prefix
    assert await raw.exists(f"{prefix}:plain:k") == 0
    assert 0 < await raw.pttl(f"{prefix}:neg:k") <= 30_000


async def test_l1_copy_never_outlives_its_l2_entry(make_config: ConfigFactory) -> None:
    config = make_config(namespaces={"short": {"ttl_s": 0.4}}, l1={"max_ttl_s": 60})
    writer_source, reader_source = Source("w"), Source("r")
    async with CacheManager(config) as writer, CacheManager(config) as reader:
        assert await writer.get_with_cache("k", writer_source, namespace="short") == "w"
        # The reader fills its L1 from L2: the copy must expire with the L2 entry.
        assert await reader.get_with_cache("k", reader_source, namespace="short") == "w"
        assert await reader.get_with_cache("k", reader_source, namespace="short") == "w"
        assert reader.stats()["namespaces"]["short"]["l1_hits"] == 1
        await asyncio.sleep(0.5)
        assert await reader.get_with_cache("k", reader_source, namespace="short") == "r"
        assert await writer.get_with_cache("k", writer_source, namespace="short") == "r"
    assert reader_source.calls == 1
    assert writer_source.calls == 1


async def test_l1_is_bounded(make_config: ConfigFactory) -> None:
    async with CacheManager(make_config(l1={"max_entries": 5})) as cache:
        for i in range(20):
            await cache.get_with_cache(f"k{i}", Source(i), namespace="ns")
        l1 = cache.stats()["l1"]
    assert l1["entries"] == 5
    assert l1["evictions"] == 15


@pytest.mark.parametrize("use_memory", [True, False])
async def test_100_concurrent_misses_fetch_once(
    make_config: ConfigFactory, use_memory: bool
) -> None:
    source = Source({"id": 1}, delay=0.1)
    async with CacheManager(make_config()) as cache:
        results = await asyncio.gather(
            *(
                cache.get_with_cache("hot", source, namespace="ns", use_memory=use_memory)
                for _ in range(100)
            )
        )
    assert source.calls == 1
    assert results == [{"id": 1}] * 100


async def test_fetch_exceptions_propagate_unchanged_and_are_not_cached(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    class Boom(Exception):
        pass

    error = Boom("database said no")
    source = Source(delay=0.02)
    source.error = error
    config = make_config()
    async with CacheManager(config) as cache:
        outcomes = await asyncio.gather(
            *(cache.get_with_cache("k", source, namespace="ns") for _ in range(10)),
            return_exceptions=True,
        )
        assert all(o is error for o in outcomes)
        assert source.calls == 1
        source.error = None
        assert await cache.get_with_cache("k", source, namespace="ns") == "v"
        assert cache.stats()["namespaces"]["ns"]["fetch_errors"] == 1
    assert source.calls == 2
    assert await raw.exists(f"{config.key_prefix}:ns:k") == 1


async def test_values_are_json_envelopes_with_fetch_time(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config()
    async with CacheManager(config) as cache:
        await cache.get_with_cache("k", Source({"a": [1, 2]}, delay=0.05), namespace="ns", ttl=120)
    stored = await raw.get(f"{config.key_prefix}:ns:k")
    doc = orjson.loads(stored)
    assert doc["v"] == {"a": [1, 2]}
    assert doc["d"] >= 0.05
    assert 0 < doc["e"] - time.time() <= 120
    assert 110_000 < await raw.pttl(f"{config.key_prefix}:ns:k") <= 120_000


async def test_xfetch_refreshes_before_expiry_with_configured_beta(
    make_config: ConfigFactory,
) -> None:
    clock = Clock()
    draws: list[float] = []

    def rng() -> float:
        draws.append(1.0 - 1e-9)  # u = 1e-9: -ln(u) = 20.7
        return draws[-1]

    source = Source("old", delay=0.02)
    config = make_config(xfetch_beta=1.0, namespaces={"ns": {"ttl_s": 100, "use_memory": False}})
    async with CacheManager(config, clock=clock, rng=rng) as cache:
        assert await cache.get_with_cache("k", source, namespace="ns") == "old"
        source.value = "new"
        # 100 s from expiry no draw can trigger a refresh (the gap is at most 37 * d * beta).
        assert await cache.get_with_cache("k", source, namespace="ns") == "old"
        assert draws == []
        # 10 ms before expiry: gap = d * beta * 20.7 >= 0.4 s > 10 ms, so this caller refreshes.
        clock.offset = 100 - 0.01
        assert await cache.get_with_cache("k", source, namespace="ns") == "new"
        assert len(draws) == 1
        clock.offset = 0
        assert await cache.get_with_cache("k", source, namespace="ns") == "new"
        stats = cache.stats()["namespaces"]["ns"]
    assert source.calls == 2
    assert stats["early_refreshes"] == 1


async def test_l1_copy_ends_where_the_xfetch_window_opens(make_config: ConfigFactory) -> None:
    clock = Clock()
    source = Source("v", delay=0.05)  # window >= 37 * 0.05 s = 1.85 s before expiry
    config = make_config(xfetch_beta=1.0, namespaces={"ns": {"ttl_s": 100}}, l1={"max_ttl_s": 1000})
    async with CacheManager(config, clock=clock, rng=lambda: 0.0) as cache:  # u = 1: no refresh
        await cache.get_with_cache("k", source, namespace="ns")
        clock.offset = 50
        await cache.get_with_cache("k", source, namespace="ns")  # L1 hit
        clock.offset = 99
        await cache.get_with_cache("k", source, namespace="ns")  # L1 copy over: read L2
        await cache.get_with_cache("k", source, namespace="ns")  # not re-stored in L1
        stats = cache.stats()["namespaces"]["ns"]
    assert (stats["l1_hits"], stats["l2_hits"], source.calls) == (1, 2, 1)


async def test_xfetch_beta_zero_never_refreshes_early(make_config: ConfigFactory) -> None:
    clock = Clock()
    source = Source("old", delay=0.02)
    config = make_config(xfetch_beta=0.0, namespaces={"ns": {"ttl_s": 100, "use_memory": False}})
    async with CacheManager(config, clock=clock, rng=lambda: 1.0 - 1e-12) as cache:
        await cache.get_with_cache("k", source, namespace="ns")
        clock.offset = 100 - 0.01
        assert await cache.get_with_cache("k", source, namespace="ns") == "old"
    assert source.calls == 1


async def test_failed_early_refresh_serves_the_still_valid_value(
    make_config: ConfigFactory,
) -> None:
    clock = Clock()
    source = Source("old", delay=0.02)
    config = make_config(namespaces={"ns": {"ttl_s": 100, "use_memory": False}})
    async with CacheManager(config, clock=clock, rng=lambda: 1.0 - 1e-12) as cache:
        await cache.get_with_cache("k", source, namespace="ns")
        source.error = RuntimeError("backend hiccup")
        clock.offset = 100 - 0.01
        assert await cache.get_with_cache("k", source, namespace="ns") == "old"
        assert cache.stats()["namespaces"]["ns"]["fetch_errors"] == 1
    assert source.calls == 2


async def test_oversized_values_error_or_compress(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    big = "event " * 2000
    async with CacheManager(make_config(max_value_bytes=2000, oversize="error")) as cache:
        with pytest.raises(ValueTooLarge, match="max_value_bytes=2000"):
            await cache.get_with_cache("big", Source(big), namespace="ns")
    config = make_config(max_value_bytes=2000, oversize="compress")
    async with CacheManager(config) as cache:
        assert await cache.get_with_cache("big", Source(big), namespace="ns") == big
    stored = await raw.get(f"{config.key_prefix}:ns:big")
    assert stored.startswith(b"z:") and len(stored) <= 2000
    async with CacheManager(config) as other:
        source = Source("refetched")
        assert await other.get_with_cache("big", source, namespace="ns") == big
        assert source.calls == 0


@pytest.mark.parametrize(
    ("key", "namespace"),
    [
        ("", "ns"),
        ("a b", "ns"),
        ("k*", "ns"),
        ("k" * 600, "ns"),
        ("k", ""),
        ("k", "n s"),
        ("k", "e*"),
    ],
)
async def test_bad_keys_and_namespaces_are_rejected_before_fetch(
    make_config: ConfigFactory, key: str, namespace: str
) -> None:
    source = Source()
    async with CacheManager(make_config()) as cache:
        with pytest.raises(InvalidKey):
            await cache.get_with_cache(key, source, namespace=namespace)
        with pytest.raises(InvalidKey):
            await cache.invalidate(key, namespace=namespace)
    assert source.calls == 0


async def test_invalidate_key_drops_both_tiers(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config()
    source = Source("v1")
    async with CacheManager(config) as cache:
        await cache.get_with_cache("k", source, namespace="ns")
        assert await cache.invalidate("k", namespace="ns") is True
        assert await raw.exists(f"{config.key_prefix}:ns:k") == 0
        source.value = "v2"
        assert await cache.get_with_cache("k", source, namespace="ns") == "v2"
        assert await cache.invalidate("absent", namespace="ns") is False
    assert source.calls == 2


async def test_invalidate_pattern_is_selective_in_both_tiers(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config(scan_batch=7)  # several SCAN/UNLINK batches
    events, users = Source("e"), Source("u")
    async with CacheManager(config) as cache:
        for i in range(30):
            await cache.get_with_cache(f"{i}", events, namespace="events")
            await cache.get_with_cache(f"{i}", users, namespace="users")
        assert await cache.invalidate_pattern("events:*") == 30
        for i in range(30):
            await cache.get_with_cache(f"{i}", events, namespace="events")
            await cache.get_with_cache(f"{i}", users, namespace="users")
        stats = cache.stats()["namespaces"]
    assert events.calls == 60  # every events key refetched
    assert users.calls == 30  # users stayed in L1: not flushed whole
    assert stats["users"]["l1_hits"] == 30
    assert len([k async for k in raw.scan_iter(f"{config.key_prefix}:users:*")]) == 30


async def test_other_instances_drop_l1_within_100ms(make_config: ConfigFactory) -> None:
    config = make_config()
    async with CacheManager(config) as writer, CacheManager(config) as reader:
        source = Source("v1")
        for key in ("a", "b"):
            await writer.get_with_cache(key, source, namespace="events")
            await reader.get_with_cache(key, source, namespace="events")
        await reader.get_with_cache("keep", source, namespace="users")
        assert reader.stats()["l1"]["entries"] == 3

        async def reader_entries_drop_to(target: int) -> float:
            started = time.perf_counter()
            while reader.stats()["l1"]["entries"] > target:
                assert time.perf_counter() - started < 0.1, "L1 not invalidated within 100 ms"
                await asyncio.sleep(0.002)
            return time.perf_counter() - started

        await writer.invalidate("a", namespace="events")
        await reader_entries_drop_to(2)
        await writer.invalidate_pattern("events:*")
        await reader_entries_drop_to(1)
        source.value = "v2"
        assert await reader.get_with_cache("b", source, namespace="events") == "v2"
        assert await reader.get_with_cache("keep", source, namespace="users") == "v1"
        assert reader.stats()["invalidation"]["received"] == 2


async def test_warm_cache_runs_seed_loaders_and_survives_a_failure(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config(warm_concurrency=2)

    async def active_events() -> list[dict[str, int]]:
        return [{"id": 1}]

    async def popular_event_types() -> list[str]:
        return ["concert"]

    async def system_configuration() -> dict[str, bool]:
        return {"maintenance": False}

    async def user_permissions() -> None:
        raise ConnectionError("permission service down")

    async with CacheManager(config) as cache:
        for loader in (active_events, popular_event_types, system_configuration, user_permissions):
            cache.register_loader(loader.__name__, loader)
        summary = await cache.warm_cache()
        source = Source("not used")
        assert await cache.get_with_cache("active_events", source, namespace="warm") == [{"id": 1}]
        assert source.calls == 0
        assert cache.stats()["namespaces"]["warm"]["warm_failures"] == 1
    assert sorted(summary.warmed) == [
        "active_events",
        "popular_event_types",
        "system_configuration",
    ]
    assert summary.failed == {"user_permissions": "ConnectionError: permission service down"}
    prefix = config.key_prefix
    for name, ttl in (
        ("active_events", 300),
        ("popular_event_types", 3600),
        ("system_configuration", 1800),
    ):
        assert (ttl - 5) * 1000 < await raw.pttl(f"{prefix}:warm:{name}") <= ttl * 1000
    assert await raw.exists(f"{prefix}:warm:user_permissions") == 0


async def test_warm_cache_reports_configured_loaders_without_a_function(
    make_config: ConfigFactory,
) -> None:
    async with CacheManager(make_config()) as cache:
        cache.register_loader("active_events", Source([1]))
        summary = await cache.warm_cache()
    assert summary.warmed == ["active_events"]
    assert summary.missing == ["popular_event_types", "system_configuration", "user_permissions"]


async def test_stats_count_per_tier_and_namespace_and_export_to_prometheus(
    make_config: ConfigFactory,
) -> None:
    async with CacheManager(make_config()) as cache, CacheManager(cache.config) as other:
        source = Source("v", delay=0.01)
        await cache.get_with_cache("k", source, namespace="a")  # L1 miss, L2 miss, fetch
        await cache.get_with_cache("k", source, namespace="a")  # L1 hit
        await other.get_with_cache("k", source, namespace="a")  # L1 miss, L2 hit
        stats = cache.stats()
        ns = stats["namespaces"]["a"]
        assert (ns["l1_hits"], ns["l1_misses"], ns["l2_hits"], ns["l2_misses"]) == (1, 1, 0, 1)
        assert ns["fetches"] == 1 and ns["fetch_seconds_total"] >= 0.01
        assert stats["tiers"]["l1"]["hit_ratio"] == 0.5
        assert other.stats()["tiers"]["l2"]["hits"] == 1
        registry = CollectorRegistry()
        registry.register(CacheCollector(cache))
        text = generate_latest(registry).decode()
    assert 'perfcore_cache_lookups_total{namespace="a",result="hit",tier="l1"} 1.0' in text
    assert 'perfcore_cache_fetch_seconds_count{namespace="a"} 1.0' in text
    assert "perfcore_cache_breaker_open 0.0" in text


async def test_lock_token_release_is_safe(redis_cache_url: str) -> None:
    backend = RedisBackend.from_url(redis_cache_url, socket_timeout=1.0)
    lock = FetchLock(backend, LockConfig(enabled=True, ttl_ms=5000))
    name = f"lock:test:{time.time_ns()}"
    try:
        token = await lock.acquire(name)
        assert token is not None
        assert await lock.acquire(name) is None
        assert await lock.release(name, "not-the-token") is False
        assert await backend.get(name) == token.encode()
        assert await lock.release(name, token) is True
        assert await backend.get(name) is None
    finally:
        await backend.aclose()


async def test_lock_is_released_after_a_fill(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config(lock={"enabled": True})
    source = Source("v")
    async with CacheManager(config) as cache:
        assert await cache.get_with_cache("k", source, namespace="ns") == "v"
    assert await raw.exists(f"lock:{config.key_prefix}:ns:k") == 0
    assert await raw.exists(f"{config.key_prefix}:ns:k") == 1


async def test_lock_wait_is_bounded_then_the_caller_fetches(
    make_config: ConfigFactory, raw: redis_asyncio.Redis
) -> None:
    config = make_config(lock={"enabled": True, "wait_timeout_ms": 200, "poll_interval_ms": 20})
    # A holder that never finishes (it crashed with a long lock TTL).
    await raw.set(f"lock:{config.key_prefix}:ns:k", "someone-else", px=60_000)
    source = Source("v")
    async with CacheManager(config) as cache:
        assert await cache.get_with_cache("k", source, namespace="ns") == "v"
        stats = cache.stats()["namespaces"]["ns"]
    assert source.calls == 1
    assert (stats["lock_waits"], stats["lock_timeouts"]) == (1, 1)
    assert await raw.get(f"lock:{config.key_prefix}:ns:k") == b"someone-else"  # not ours to delete
