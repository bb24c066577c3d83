"""Redis down or hung mid-test: callers still get values, the breaker stops hammering, recovery."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as redis_asyncio
from cache_helpers import Source, isolated_config

from perfcore.cache.manager import CacheManager, CacheUnavailable
from perfcore.config import CacheConfig
from perfcore.stack import start_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

RESET_S = 0.3


def _config(url: str) -> CacheConfig:
    return isolated_config(
        url,
        socket_timeout_s=0.2,
        breaker={"failure_threshold": 2, "reset_after_s": RESET_S, "log_interval_s": 60},
    )


async def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    for _ in range(int(timeout_s / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


async def test_redis_stopped_then_restarted(
    run_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_redis(run_dir / "outage")
    config = _config(server.url)
    raw = redis_asyncio.Redis.from_url(server.url)
    try:
        async with CacheManager(config) as cache:
            warm = Source("in-l1")
            assert await cache.get_with_cache("warm", warm, namespace="ns") == "in-l1"

            server.stop()
            caplog.set_level(logging.WARNING, logger="perfcore.cache")
            for i in range(50):
                source = Source(f"fresh-{i}")
                assert await cache.get_with_cache(f"k{i}", source, namespace="ns") == f"fresh-{i}"
                assert source.calls == 1
            # L1 still serves what it had.
            assert await cache.get_with_cache("warm", warm, namespace="ns") == "in-l1"
            assert warm.calls == 1
            # fetch() errors still reach the caller unchanged while Redis is down.
            failing = Source()
            failing.error = KeyError("no such event")
            with pytest.raises(KeyError) as raised:
                await cache.get_with_cache("bad", failing, namespace="ns")
            assert raised.value is failing.error
            # An invalidation must not be skipped silently.
            with pytest.raises(CacheUnavailable):
                await cache.invalidate_pattern("ns:*")

            stats = cache.stats()
            assert stats["breaker"]["state"] in {"open", "half-open"}
            # The breaker stops hammering: 50 calls, only a handful reached Redis.
            assert stats["tiers"]["l2"]["errors"] <= 6
            degraded = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
            assert len(degraded) == 1  # at most one log line per interval

            server.start()
            await asyncio.sleep(RESET_S + 0.05)
            recovered = Source("after-restart")
            assert await cache.get_with_cache("new", recovered, namespace="ns") == "after-restart"
            assert cache.stats()["breaker"]["state"] == "closed"
            assert await raw.exists(f"{config.key_prefix}:ns:new") == 1
            # The invalidation listener reconnects by itself.
            assert await _wait_for(lambda: cache.stats()["invalidation"]["subscribed"], 5.0)
            assert cache.stats()["invalidation"]["reconnects"] >= 1
    finally:
        await raw.aclose()
        server.stop()


async def test_hung_redis_times_out_and_values_still_flow(run_dir: Path) -> None:
    server = start_redis(run_dir / "hung")
    config = _config(server.url)
    try:
        async with CacheManager(config) as cache:
            await cache.get_with_cache("before", Source(1), namespace="ns", use_memory=False)
            os.kill(server.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
            try:
                results = await asyncio.gather(
                    *(
                        cache.get_with_cache(f"k{i}", Source(i), namespace="ns", use_memory=False)
                        for i in range(10)
                    )
                )
                assert results == list(range(10))
                stats = cache.stats()
                assert stats["tiers"]["l2"]["errors"] >= 1
                assert stats["breaker"]["state"] != "closed"
            finally:
                os.kill(server.pid, signal.SIGCONT)
            await asyncio.sleep(RESET_S + 0.05)
            source = Source("back")
            await cache.get_with_cache("after", source, namespace="ns", use_memory=False)
            assert await cache.get_with_cache("after", source, namespace="ns", use_memory=False)
            assert source.calls == 1  # the second call was an L2 hit again
    finally:
        server.stop()
