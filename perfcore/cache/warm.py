"""Cache warming: named loaders run concurrently, with a bound, each failure isolated.

The seed's loaders (``active_events`` 300 s, ``popular_event_types`` 3600 s,
``system_configuration`` 1800 s, ``user_permissions``) are configured under
``cache.warm_loaders``; the application registers the functions that produce
the data.  A failing loader is logged and counted and never stops the others;
the summary says what was warmed, what failed (and why) and which configured
loaders had no function registered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("perfcore.cache")


@dataclass(frozen=True)
class Loader:
    name: str
    load: Callable[[], Awaitable[Any]]
    ttl_s: float
    namespace: str


@dataclass
class WarmSummary:
    warmed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "warmed": sorted(self.warmed),
            "failed": dict(sorted(self.failed.items())),
            "missing": self.missing,
            "seconds": self.seconds,
        }


async def run_loaders(
    loaders: list[Loader],
    store: Callable[[Loader, Any, float], Awaitable[None]],
    on_failure: Callable[[Loader], None],
    concurrency: int,
    missing: list[str],
) -> WarmSummary:
    """Run ``loaders`` at most ``concurrency`` at a time, storing each result."""
    summary = WarmSummary(missing=list(missing))
    gate = asyncio.Semaphore(concurrency)
    began = time.perf_counter()

    async def one(loader: Loader) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                value = await loader.load()
                await store(loader, value, time.perf_counter() - started)
            except Exception as exc:
                on_failure(loader)
                summary.failed[loader.name] = f"{type(exc).__name__}: {exc}"
                log.warning("cache warm-up of %s failed: %r", loader.name, exc)
            else:
                summary.warmed.append(loader.name)

    await asyncio.gather(*(one(loader) for loader in loaders))
    summary.seconds = time.perf_counter() - began
    return summary
