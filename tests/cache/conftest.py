"""Cache test fixtures: isolated configs (own key prefix and channel) on the stack's Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from cache_helpers import ConfigFactory, isolated_config

from perfcore.config import CacheConfig


@pytest.fixture()
def make_config(redis_cache_url: str) -> ConfigFactory:
    def make(**overrides: Any) -> CacheConfig:
        return isolated_config(redis_cache_url, **overrides)

    return make


@pytest.fixture()
async def raw(redis_cache_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_cache_url)
    yield client
    await client.aclose()
