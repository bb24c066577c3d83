"""Shared helpers for the cache tests (imported by test modules and the process worker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from perfcore.config import CacheConfig

ConfigFactory = Callable[..., CacheConfig]


def isolated_config(url: str, **overrides: Any) -> CacheConfig:
    """A config whose keys and invalidation channel no other test shares."""
    prefix = "t" + uuid.uuid4().hex[:12]
    base: dict[str, Any] = {
        "redis_url": url,
        "key_prefix": prefix,
        "invalidation_channel": f"{prefix}:invalidate",
        "socket_timeout_s": 1.0,
    }
    return CacheConfig.model_validate(base | overrides)


class FakeClock:
    """An injected clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A fetch function that counts its calls and can be told to fail or be slow."""

    def __init__(self, value: Any = "v", delay: float = 0.0) -> None:
        self.value = value
        self.delay = delay
        self.calls = 0
        self.error: BaseException | None = None

    async def __call__(self) -> Any:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.value
