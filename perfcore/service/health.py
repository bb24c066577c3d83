"""``/healthz``: ok, degraded (a configured dependency is down) or unavailable (no database).

The database is required: without it every route fails, so the answer is 503
"unavailable". The cache Redis and the queue Redis are configured
dependencies the service survives (reads fall back to L1 and the database;
writes answer 503 with Retry-After), so either one down makes the answer 200
"degraded", naming it. The embedded cache (no Redis configured) is not a
dependency and never degrades.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from perfcore.config import CacheConfig

Probe = Callable[[], Awaitable[object]]
_TIMEOUT_S = 1.0


@dataclass
class Dependencies:
    """What the service depends on, with an async probe each (raises or returns falsy: down)."""

    database: Probe
    optional: dict[str, Probe] = field(default_factory=dict)
    mode: dict[str, str] = field(default_factory=dict)  # e.g. {"cache": "embedded (no Redis)"}


def redis_probe(url: str) -> Probe:
    """A PING on a short-lived connection to ``url``."""

    async def ping() -> object:
        client = Redis.from_url(url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S)
        try:
            return await client.ping()
        finally:
            await client.aclose()

    return ping


def dependencies(
    database: Probe, cache: CacheConfig, queues_url: str | None, embedded_cache: bool
) -> Dependencies:
    """The service's dependencies: the database, and the Redis servers it was configured with."""
    deps = Dependencies(database)
    if embedded_cache:
        deps.mode["cache_mode"] = "embedded (in process, no Redis)"
    else:
        deps.optional["cache"] = redis_probe(cache.redis_url)
    if queues_url:
        deps.optional["queues"] = redis_probe(queues_url)
    return deps


async def _up(probe: Probe) -> str | None:
    """None when up, else a short reason."""
    try:
        result = await asyncio.wait_for(probe(), timeout=2 * _TIMEOUT_S)
    except Exception as exc:  # any error of the probe means "down"
        return type(exc).__name__
    return None if result is not False else "not ready"


async def health(deps: Dependencies, extra: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of ``/healthz``."""
    db_down = await _up(deps.database)
    if db_down is not None:
        return 503, {"status": "unavailable", "database": db_down, **deps.mode}
    names = list(deps.optional)
    results = await asyncio.gather(*(_up(deps.optional[n]) for n in names))
    down = {n: r for n, r in zip(names, results, strict=True) if r is not None}
    body: dict[str, Any] = {"status": "degraded" if down else "ok", "database": "ok"}
    body.update({n: "ok" for n in names if n not in down})
    body.update({n: f"down ({r})" for n, r in down.items()})
    if down:
        body["degraded"] = sorted(down)
    return 200, {**body, **deps.mode, **extra}
