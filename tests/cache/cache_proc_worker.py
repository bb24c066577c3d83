"""One cache process for the multi-process tests (run as a script, not collected).

Usage: python cache_proc_worker.py CONFIG_JSON CONCURRENCY
Prints ``ready``, waits for a line on stdin, then runs CONCURRENCY concurrent
``get_with_cache`` calls for one key; the fetch counts itself in a Redis
counter (``{prefix}-fetches``) and locally, and the process prints one JSON
line with what it saw.
"""

from __future__ import annotations

import asyncio
import json
import sys

from perfcore.cache.manager import CacheManager
from perfcore.config import CacheConfig


async def main(config: CacheConfig, concurrency: int) -> dict[str, object]:
    local_fetches = 0
    async with CacheManager(config) as cache:
        client = cache.backend.client

        async def fetch() -> dict[str, int]:
            nonlocal local_fetches
            local_fetches += 1
            await client.incr(f"{config.key_prefix}-fetches")
            await asyncio.sleep(0.3)  # a slow query: the window for a stampede
            return {"answer": 42}

        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(
            *(cache.get_with_cache("shared", fetch, namespace="ns") for _ in range(concurrency))
        )
        stats = cache.stats()["namespaces"]["ns"]
    return {
        "local_fetches": local_fetches,
        "all_equal": all(r == {"answer": 42} for r in results),
        "results": len(results),
        "lock_waits": stats["lock_waits"],
        "l2_errors": stats["l2_errors"],
    }


if __name__ == "__main__":
    cfg = CacheConfig.model_validate(json.loads(sys.argv[1]))
    print(json.dumps(asyncio.run(main(cfg, int(sys.argv[2])))), flush=True)
