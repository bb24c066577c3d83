"""``perfcore cache``: inspect the L2 tier and invalidate keys from the shell.

``stats`` reads Redis only (INFO of every primary, and a SCAN count of cache
keys per namespace); in-process L1 counters live in the application
(:meth:`CacheManager.stats`, Prometheus).  ``invalidate`` goes through a
``CacheManager`` so running instances also drop their L1 copies.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import click

from perfcore.cache.backend import BACKEND_ERRORS, RedisBackend, check_url
from perfcore.cache.keys import split_redis_key, validate_pattern
from perfcore.cli_options import (
    cache_redis_option,
    config_option,
    emit,
    json_option,
    out_option,
    set_option,
)
from perfcore.config import KEY_PREFIX_PATTERN, CacheConfig, load_config, validate_model
from perfcore.errors import BadInput, ServiceUnavailable
from perfcore.redact import redact

_INFO_FIELDS = (
    "redis_version",
    "used_memory",
    "maxmemory",
    "maxmemory_policy",
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "expired_keys",
)


def _cache_config(
    config_path: Path | None,
    overrides: tuple[str, ...],
    redis_url: str | None,
    prefix: str | None,
) -> CacheConfig:
    cache = load_config(config_path, list(overrides)).cache
    updates: dict[str, Any] = {}
    if redis_url is not None:
        updates["redis_url"] = check_url(redis_url)
    if prefix is not None:
        # A glob character here would widen SCAN and UNLINK beyond the cache's keys.
        if not re.fullmatch(KEY_PREFIX_PATTERN, prefix):
            raise BadInput(f"--prefix: {prefix!r} is not 1-32 of A-Z a-z 0-9 _ . -")
        updates["key_prefix"] = prefix
    return validate_model(CacheConfig, cache.model_dump() | updates)


async def l2_report(config: CacheConfig) -> dict[str, Any]:
    """Server counters of every primary plus cache keys per namespace."""
    backend = RedisBackend.from_url(
        config.redis_url, socket_timeout=max(config.socket_timeout_s, 2)
    )
    try:
        info = await backend.info()
        per_namespace: Counter[str] = Counter()
        async for keys in backend.scan(f"{config.key_prefix}:*", config.scan_batch):
            for key in keys:
                parts = split_redis_key(config.key_prefix, key)
                per_namespace[parts[0] if parts else "(other)"] += 1
    except BACKEND_ERRORS as exc:
        raise ServiceUnavailable(f"redis: {redact(config.redis_url)}: {redact(str(exc))}") from None
    finally:
        await backend.aclose()
    nodes = {addr: {f: node.get(f) for f in _INFO_FIELDS} for addr, node in info.items()}
    hits = sum(int(n["keyspace_hits"] or 0) for n in nodes.values())
    misses = sum(int(n["keyspace_misses"] or 0) for n in nodes.values())
    return {
        "redis": redact(config.redis_url),
        "cluster": backend.is_cluster,
        "prefix": config.key_prefix,
        "nodes": nodes,
        "keys": {"total": sum(per_namespace.values()), "namespaces": dict(per_namespace)},
        "server_hit_ratio": hits / (hits + misses) if hits + misses else None,
    }


def _format_report(report: dict[str, Any]) -> str:
    kind = "cluster" if report["cluster"] else "standalone"
    lines = [f"redis {report['redis']} ({kind}), prefix {report['prefix']!r}"]
    for addr, node in report["nodes"].items():
        lines.append(
            f"  {addr}: used_memory={node['used_memory']} policy={node['maxmemory_policy']} "
            f"hits={node['keyspace_hits']} misses={node['keyspace_misses']} "
            f"evicted={node['evicted_keys']}"
        )
    lines.append(f"cache keys: {report['keys']['total']}")
    for namespace, count in sorted(report["keys"]["namespaces"].items()):
        lines.append(f"  {namespace}: {count}")
    return "\n".join(lines)


prefix_option = click.option(
    "--prefix", default=None, help="cache key prefix [default: cache.key_prefix]"
)


@click.group()
def cache() -> None:
    """The two-tier cache's Redis tier (standalone or cluster).

    \b
      perfcore cache stats --redis redis://127.0.0.1:6379/0 --json
      perfcore cache invalidate 'events:*' --redis redis+cluster://127.0.0.1:7000
    """


@cache.command()
@cache_redis_option
@prefix_option
@config_option
@set_option
@json_option
@out_option
def stats(
    redis_url: str | None,
    prefix: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """Server counters of every primary and the number of cache keys per namespace."""
    config = _cache_config(config_path, overrides, redis_url, prefix)
    report = asyncio.run(l2_report(config))
    emit(report, as_json=as_json, out=out, stem="cache-stats", text=_format_report(report))


@cache.command()
@click.argument("pattern")
@cache_redis_option
@prefix_option
@config_option
@set_option
@json_option
@out_option
def invalidate(
    pattern: str,
    redis_url: str | None,
    prefix: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """Delete cache keys matching PATTERN and drop them from running instances' memory.

    PATTERN is a Redis glob over namespace:key (e.g. 'events:*'); keys are
    SCANned and UNLINKed on every primary, never with KEYS.
    """
    validate_pattern(pattern)
    config = _cache_config(config_path, overrides, redis_url, prefix)
    removed = asyncio.run(_invalidate(config, pattern))
    payload = {"redis": redact(config.redis_url), "pattern": pattern, "removed": removed}
    text = f"removed {removed} keys matching {pattern!r}"
    emit(payload, as_json=as_json, out=out, stem="cache-invalidate", text=text)


async def _invalidate(config: CacheConfig, pattern: str) -> int:
    from perfcore.cache.manager import CacheManager

    async with CacheManager(config, listen=False) as manager:
        return await manager.invalidate_pattern(pattern)
