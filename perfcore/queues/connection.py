"""The queue Redis: how to reach it, and whether it is safe for BullMQ.

BullMQ keeps every job in Redis.  A server that may evict keys
(``maxmemory-policy`` other than ``noeviction``) can silently drop jobs, locks
and markers, so perfcore refuses it instead of warning.

Two URL forms are accepted:

* ``redis://host:port/db`` (or ``rediss://``) - one server;
* ``redis+cluster://host:port,host:port`` - Redis Cluster.  BullMQ's Lua
  scripts touch many keys of one queue at once, so every key must live in one
  hash slot: the key prefix must contain a hash tag such as ``{perfcore}``.

A server without an append-only file loses every queued job when it restarts;
workers refuse it (or warn, with ``queues.require_persistence: false``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from perfcore.config import ConfigError
from perfcore.errors import ServiceUnavailable
from perfcore.redact import redact
from perfcore.urls import check_service_url

CLUSTER_SCHEME = "redis+cluster://"
_HASH_TAG = re.compile(r"\{[^{}]+\}")


@dataclass(frozen=True)
class QueueRedis:
    """A parsed queue Redis URL."""

    url: str
    cluster_nodes: tuple[tuple[str, int], ...] = ()

    @property
    def is_cluster(self) -> bool:
        return bool(self.cluster_nodes)


def parse_redis_url(url: str, field: str = "queues.redis_url") -> QueueRedis:
    """Recognise a single-server or a ``redis+cluster://`` URL (bad input -> ConfigError)."""
    if url.startswith(CLUSTER_SCHEME):
        nodes: list[tuple[str, int]] = []
        for part in url.removeprefix(CLUSTER_SCHEME).strip("/").split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                shown = part.rpartition("@")[2]  # user info (a password) stays out of errors
                raise ConfigError(f"{field}: expected host:port in cluster URL, got {shown!r}")
            nodes.append((host, int(port)))
        return QueueRedis(url, tuple(nodes))
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"{field}: expected redis://, rediss:// or redis+cluster://, got {redact(url)!r}"
        )
    check_service_url(url, field)
    return QueueRedis(url)


def check_prefix(target: QueueRedis, prefix: str) -> None:
    """On Redis Cluster the prefix must pin a queue's keys to one slot."""
    if target.is_cluster and not _HASH_TAG.search(prefix):
        raise ConfigError(
            f"queues.prefix: Redis Cluster needs a hash tag in the prefix, e.g. {{{prefix}}}"
        )


def make_client(target: QueueRedis) -> Redis | RedisCluster:
    """An asyncio client (decoded responses, as bullmq expects)."""
    if target.is_cluster:
        nodes = [ClusterNode(host, port) for host, port in target.cluster_nodes]
        return RedisCluster(startup_nodes=nodes, decode_responses=True)
    client: Redis = Redis.from_url(target.url, decode_responses=True)
    return client


def bullmq_connection(target: QueueRedis) -> Any:
    """What bullmq's ``connection`` option takes: the URL, or a cluster client.

    A URL lets bullmq open (and later close) its own connections, including the
    worker's dedicated blocking one.
    """
    return make_client(target) if target.is_cluster else target.url


async def _primary_addresses(target: QueueRedis) -> list[tuple[str, int] | None]:
    """Every primary of a cluster; ``[None]`` stands for the single server of ``target.url``."""
    if not target.is_cluster:
        return [None]
    cluster = make_client(target)
    assert isinstance(cluster, RedisCluster)
    try:
        await cluster.initialize()
        return [(node.host, int(node.port)) for node in cluster.get_primaries()]
    finally:
        await cluster.aclose()


async def _primary_configs(target: QueueRedis, *names: str) -> list[tuple[str, dict[str, str]]]:
    """``CONFIG GET`` of ``names`` on every primary, each with its redacted address."""
    found: list[tuple[str, dict[str, str]]] = []
    try:
        for address in await _primary_addresses(target):
            server = (
                Redis.from_url(target.url, decode_responses=True)
                if address is None
                else Redis(host=address[0], port=address[1], decode_responses=True)
            )
            try:
                reply: dict[str, str] = {}
                for name in names:
                    for key, value in (await server.config_get(name)).items():
                        reply[str(key)] = str(value or "")
            finally:
                await server.aclose()
            where = redact(target.url) if address is None else f"{address[0]}:{address[1]}"
            found.append((where, reply))
    except (OSError, RedisConnectionError, RedisTimeoutError) as exc:
        raise ServiceUnavailable(f"queue Redis unreachable: {redact(str(exc))}") from None
    return found


async def ensure_noeviction(target: QueueRedis) -> None:
    """Raise :class:`ServiceUnavailable` unless every primary has ``noeviction``."""
    for where, reply in await _primary_configs(target, "maxmemory-policy"):
        policy = str(reply.get("maxmemory-policy", "unknown"))
        if policy != "noeviction":
            raise ServiceUnavailable(
                f"queue Redis {where} has maxmemory-policy {policy}; BullMQ needs noeviction "
                "(CONFIG SET maxmemory-policy noeviction, or a separate Redis for queues)"
            )


def persistence_problem(where: str, reply: dict[str, str]) -> str | None:
    """Why a server's ``appendonly``/``appendfsync``/``save`` settings can lose jobs, or None.

    Only an append-only file keeps every acknowledged job across a restart
    (``everysec`` loses at most about a second on a crash); RDB snapshots alone
    lose everything since the last one.
    """
    if reply.get("appendonly", "no") != "yes":
        snapshots = "RDB snapshots only" if reply.get("save") else "no persistence"
        return (
            f"queue Redis {where} has appendonly no ({snapshots}): a restart loses queued jobs; "
            "run it with appendonly yes and appendfsync everysec (CONFIG SET appendonly yes)"
        )
    if reply.get("appendfsync") == "no":
        return (
            f"queue Redis {where} has appendfsync no: a crash loses up to ~30 s of jobs; "
            "use appendfsync everysec"
        )
    return None


async def persistence_problems(target: QueueRedis) -> list[str]:
    """One message per primary whose settings can lose jobs on a restart (empty: all safe)."""
    configs = await _primary_configs(target, "appendonly", "appendfsync", "save")
    return [problem for where, reply in configs if (problem := persistence_problem(where, reply))]


async def verify(url: str, prefix: str) -> QueueRedis:
    """Parse ``url`` and refuse an unsafe server or prefix; the one check every entry point runs."""
    target = parse_redis_url(url)
    check_prefix(target, prefix)
    await ensure_noeviction(target)
    return target
