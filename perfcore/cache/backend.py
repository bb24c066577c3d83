"""L2 adapter: one small API over ``redis.asyncio`` Redis and RedisCluster.

The URL picks the topology: ``redis://``, ``rediss://`` and ``unix://`` give a
standalone client, ``redis+cluster://host:port,host:port`` a cluster client
(any reachable node is enough to discover the rest).  Clients fail fast
(socket timeouts, no retries): the cache's circuit breaker, not redis-py's
retry loop, decides when to try Redis again.

Pattern deletes SCAN every primary (never KEYS, which blocks the server) and
UNLINK (freeing memory off the main thread) in batches.  Multi-key UNLINK is
one command on a standalone server; on a cluster, keys of one batch live in
many hash slots, so they go through a cluster pipeline that sends one batch
per node.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import LockNotOwnedError, RedisClusterException, RedisError

from perfcore.errors import BadInput
from perfcore.redact import redact
from perfcore.urls import check_service_url

# Everything a broken or slow Redis can raise at us.
BACKEND_ERRORS: tuple[type[BaseException], ...] = (
    RedisError,
    RedisClusterException,
    OSError,
    asyncio.TimeoutError,
)

CLUSTER_SCHEME = "redis+cluster://"
_STANDALONE_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def parse_cluster_url(url: str) -> ClusterUrl:
    """``redis+cluster://[user:pass@]h1:p1,h2:p2`` → nodes and credentials."""
    rest = url[len(CLUSTER_SCHEME) :].split("/", 1)[0]
    username = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, _, secret = auth.partition(":")
        username, password = (user or None), (secret or None)
    nodes: list[tuple[str, int]] = []
    for part in rest.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(f"redis_url: cluster node {part!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return ClusterUrl(tuple(nodes), username, password)


def check_url(url: str) -> str:
    """Validate a cache Redis URL, raising :class:`BadInput` naming the problem."""
    if url.startswith(CLUSTER_SCHEME):
        parse_cluster_url(url)
    elif not url.startswith(_STANDALONE_SCHEMES):
        raise BadInput(
            f"redis_url: {redact(url)!r} must start with redis://, rediss://, unix:// "
            f"or {CLUSTER_SCHEME}"
        )
    else:
        check_service_url(url, "redis_url")
    return url


class Gate:
    """At most ``limit`` holders; the uncontended path is two integer operations.

    Plays the role of :class:`asyncio.Semaphore`, whose ``async with`` costs
    several calls and a generator per use: a measurable share of an L2 hit.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        while self.busy >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.busy += 1

    async def __aexit__(self, *exc: object) -> None:
        self.busy -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break


class RedisBackend:
    """The L2 store; ``client`` is a ``Redis`` or a ``RedisCluster``.

    At most ``max_connections`` commands are in flight: a burst of misses
    queues on a gate instead of exhausting the pool, which would raise and
    trip the breaker.  (A blocking pool would do the same but costs a
    condition and a timer on every command.)
    """

    def __init__(self, client: Redis | RedisCluster, max_connections: int = 64) -> None:
        self.client = client
        self.is_cluster = isinstance(client, RedisCluster)
        self._slots = Gate(max_connections)

    @classmethod
    def from_url(
        cls, url: str, *, socket_timeout: float, max_connections: int = 64
    ) -> RedisBackend:
        check_url(url)
        options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "retry": Retry(NoBackoff(), 0),
            # Headroom over the semaphore for the pub/sub connection.
            "max_connections": max_connections + 2,
        }
        if url.startswith(CLUSTER_SCHEME):
            parsed = parse_cluster_url(url)
            return cls(
                RedisCluster(
                    startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
                    username=parsed.username,
                    password=parsed.password,
                    **options,
                ),
                max_connections,
            )
        return cls(Redis.from_url(url, **options), max_connections)

    async def get(self, key: str) -> bytes | None:
        async with self._slots:
            data: Any = await self.client.get(key)
        return data  # type: ignore[no-any-return]  # bytes: decode_responses is off

    async def set(self, key: str, data: bytes, ttl_ms: int) -> None:
        async with self._slots:
            await self.client.set(key, data, px=max(1, ttl_ms))

    async def unlink(self, *keys: str) -> int:
        if not keys:
            return 0
        if not self.is_cluster or len(keys) == 1:
            return int(await self.client.unlink(*keys))
        pipe = self.client.pipeline()
        for key in keys:
            # Raw command: ClusterPipeline.unlink() is a coroutine, not a queued command.
            pipe.execute_command("UNLINK", key)
        return sum(int(n) for n in await pipe.execute())

    async def scan(self, pattern: str, batch: int) -> AsyncIterator[list[str]]:
        """Batches of keys matching ``pattern`` from every primary (SCAN, never KEYS)."""
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()  # a fresh client knows no primaries yet
            for node in self.client.get_primaries():
                cursor = 0
                while True:
                    cursors: Any
                    cursors, keys = await self.client.scan(
                        cursor, match=pattern, count=batch, target_nodes=node
                    )
                    if keys:
                        yield [_text(k) for k in keys]
                    cursor = int(cursors[node.name])
                    if cursor == 0:
                        break
        else:
            cursor = 0
            while True:
                cursor, keys = await self.client.scan(cursor, match=pattern, count=batch)
                if keys:
                    yield [_text(k) for k in keys]
                if cursor == 0:
                    break

    async def delete_matching(self, pattern: str, batch: int) -> int:
        """UNLINK every key matching ``pattern`` on every primary; the number removed."""
        removed = 0
        async for keys in self.scan(pattern, batch):
            for start in range(0, len(keys), batch):
                removed += await self.unlink(*keys[start : start + batch])
        return removed

    def _lock(self, key: str, ttl_ms: int) -> Lock:
        # redis-py's lock: SET NX PX with a token, released by a Lua compare-and-delete
        # (one key, so one hash slot on a cluster). Non-blocking, and the token is
        # passed explicitly rather than kept per thread: many tasks share a thread.
        return Lock(self.client, key, timeout=ttl_ms / 1000, blocking=False, thread_local=False)

    async def acquire_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        """Take the lock ``key`` with ``token`` for ``ttl_ms``; False if another holds it."""
        async with self._slots:
            return bool(await self._lock(key, ttl_ms).acquire(token=token))

    async def release_lock(self, key: str, token: str) -> bool:
        """Release ``key`` only while it still holds ``token``; False if it expired or moved on."""
        async with self._slots:
            try:
                await self._lock(key, 1).do_release(token.encode())
            except LockNotOwnedError:
                return False
        return True

    async def publish(self, channel: str, message: bytes) -> None:
        await self.client.publish(channel, message)

    async def pubsub(self) -> Any:
        """A fresh pub/sub object (plain pub/sub is broadcast to every cluster node)."""
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()  # ClusterPubSub needs the slot map
        return self.client.pubsub()

    def primaries(self) -> list[str]:
        if isinstance(self.client, RedisCluster):
            return [f"{n.host}:{n.port}" for n in self.client.get_primaries()]
        kwargs = self.client.connection_pool.connection_kwargs
        return [f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}"]

    async def info(self) -> dict[str, dict[str, Any]]:
        """``INFO`` of every primary, keyed by ``host:port``."""
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()
            result: dict[str, dict[str, Any]] = {}
            for node in self.client.get_primaries():
                raw = await self.client.info(target_nodes=node)
                result[f"{node.host}:{node.port}"] = raw.get(node.name, raw)
            return result
        return {self.primaries()[0]: await self.client.info()}

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def aclose(self) -> None:
        await self.client.aclose()


def _text(key: bytes | str) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key
