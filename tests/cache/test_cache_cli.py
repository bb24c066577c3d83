"""``perfcore cache stats`` and ``perfcore cache invalidate`` against real Redis and Cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cache_helpers import Source, isolated_config

from perfcore.cache.manager import CacheManager


def _perfcore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args], capture_output=True, text=True, timeout=60
    )


async def _fill(url: str, prefix_holder: list[str]) -> None:
    config = isolated_config(url)
    prefix_holder.append(config.key_prefix)
    async with CacheManager(config) as cache:
        for i in range(12):
            await cache.get_with_cache(str(i), Source(i), namespace="events")
        for i in range(5):
            await cache.get_with_cache(str(i), Source(i), namespace="users")


@pytest.mark.redis
async def test_stats_and_invalidate_json(redis_cache_url: str, tmp_path: Path) -> None:
    prefix: list[str] = []
    await _fill(redis_cache_url, prefix)
    stats = _perfcore(
        "cache", "stats", "--redis", redis_cache_url, "--prefix", prefix[0], "--json",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["keys"] == {"total": 17, "namespaces": {"events": 12, "users": 5}}
    assert report["cluster"] is False
    assert json.loads((tmp_path / "cache-stats.json").read_text()) == report

    gone = _perfcore(
        "cache", "invalidate", "events:*", "--redis", redis_cache_url, "--prefix", prefix[0],
        "--json",
    )  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout)["removed"] == 12
    again = _perfcore("cache", "stats", "--redis", redis_cache_url, "--prefix", prefix[0], "--json")
    assert json.loads(again.stdout)["keys"]["namespaces"] == {"users": 5}


@pytest.mark.cluster
async def test_stats_and_invalidate_on_a_cluster(redis_cluster_url: str) -> None:
    prefix: list[str] = []
    await _fill(redis_cluster_url, prefix)
    stats = _perfcore(
        "cache", "stats", "--redis", redis_cluster_url, "--prefix", prefix[0], "--json"
    )
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["cluster"] is True and len(report["nodes"]) == 3
    assert report["keys"]["total"] == 17
    gone = _perfcore(
        "cache", "invalidate", "*", "--redis", redis_cluster_url, "--prefix", prefix[0], "--json"
    )
    assert json.loads(gone.stdout)["removed"] == 17


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stats", "--redis", "http://nope"], "redis_url"),
        (["invalidate", "a b", "--redis", "redis://127.0.0.1:1/0"], "pattern"),
        (["stats", "--redis", "redis+cluster://host-without-port"], "host:port"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = _perfcore("cache", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_redis_exits_1() -> None:
    result = _perfcore("cache", "stats", "--redis", "redis://127.0.0.1:1/0", "--json")
    assert result.returncode == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
