"""``CacheManager``: L1 memory → L2 Redis → fetch, with stampede protection and degradation.

Read path of :meth:`CacheManager.get_with_cache`:

1. L1 (in process).  Checked before any validation, allocation or await: an
   entry can only be in L1 if its key was valid when stored.
2. L2 (Redis or Redis Cluster), unless the circuit breaker is open.  On a hit,
   XFetch may pick this caller to recompute the value before it expires.
3. Miss: concurrent callers in this process share one fill (single-flight).
   The fill re-reads L2, optionally takes the cross-process lock (or waits for
   the holder's value), calls ``fetch`` once, and stores in both tiers.

Falsy values are hits: presence is "an entry exists", never truthiness.
``None`` is stored only in namespaces with ``negative_ttl_s``.  Redis errors
never reach callers of ``get_with_cache`` (they are counted, logged at most
once per interval, and trip the breaker); exceptions from ``fetch`` do,
unchanged.  :meth:`invalidate` and :meth:`invalidate_pattern` do raise
:class:`CacheUnavailable` when Redis cannot be reached, since a silently
skipped invalidation would serve stale data.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from perfcore.cache.backend import BACKEND_ERRORS, RedisBackend
from perfcore.cache.codec import Entry, encode
from perfcore.cache.invalidation import Invalidation, InvalidationBus, InvalidationLog
from perfcore.cache.keys import (
    compile_glob,
    lock_key,
    redis_key,
    validate_key,
    validate_namespace,
    validate_pattern,
)
from perfcore.cache.memory import L1Entry, MemoryCache
from perfcore.cache.policy import (
    l1_expiry,
    ttl_for,
    uses_memory,
    xfetch_possible,
    xfetch_should_refresh,
)
from perfcore.cache.singleflight import SingleFlight
from perfcore.cache.stats import NamespaceStats, tiers
from perfcore.cache.tier2 import GuardedL2
from perfcore.cache.warm import Loader, WarmSummary, run_loaders
from perfcore.config import CacheConfig
from perfcore.errors import ServiceUnavailable

T = TypeVar("T")
log = logging.getLogger("perfcore.cache")


class CacheUnavailable(ServiceUnavailable):
    """Redis could not be reached for an operation that must not be skipped."""


class CacheManager:
    """Two-tier cache; use as ``async with CacheManager(config) as cache: ...``."""

    def __init__(
        self,
        config: CacheConfig | None = None,
        *,
        backend: RedisBackend | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        instance_id: str | None = None,
        listen: bool = True,
    ) -> None:
        self.config = config = config or CacheConfig()
        self.instance_id = instance_id or uuid.uuid4().hex
        self._backend = backend or RedisBackend.from_url(
            config.redis_url,
            socket_timeout=config.socket_timeout_s,
            max_connections=config.max_connections,
        )
        # Wall clock: expiry times are shared with other processes through L2.
        self._clock = clock
        self._rng = rng
        self._l1 = MemoryCache(config.l1.max_entries, config.l1.max_bytes)
        self._flight = SingleFlight()
        self._l2 = GuardedL2(self._backend, config)
        self._invalidations = InvalidationLog()
        self._stats: dict[str, NamespaceStats] = {}
        self._loaders: dict[str, Loader] = {}
        self._bus = (
            InvalidationBus(
                self._backend,
                config.invalidation_channel,
                self.instance_id,
                apply=self._apply_invalidation,
                on_gap=self._l1.clear,
                retry_s=config.breaker.reset_after_s,
                log_interval_s=config.breaker.log_interval_s,
            )
            if listen
            else None
        )

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe to the invalidation channel (waits briefly; retries in background)."""
        if self._bus is not None:
            await self._bus.start(wait_s=max(1.0, 4 * self.config.socket_timeout_s))

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.close()
        await self._backend.aclose()

    async def __aenter__(self) -> CacheManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def backend(self) -> RedisBackend:
        return self._backend

    # ------------------------------------------------------------ read path

    async def get_with_cache(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        namespace: str = "default",
        ttl: float | None = None,
        use_memory: bool | None = None,
    ) -> T:
        """The cached value of ``key`` in ``namespace``, calling ``fetch()`` on a miss.

        ``ttl`` (seconds) overrides the namespace TTL for non-None values;
        ``use_memory`` overrides the namespace's L1 setting.
        """
        if use_memory is not False:
            entry = self._l1.get((namespace, key), self._clock())
            if entry is not None:
                entry.tag.l1_hits += 1
                return entry.value  # type: ignore[no-any-return]  # no cast(): hot path
        return await self._get_slow(key, fetch, namespace, ttl, use_memory)

    async def _get_slow(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        namespace: str,
        ttl: float | None,
        use_memory: bool | None,
    ) -> T:
        stats = self._ns(namespace)  # validates the namespace on first sight
        validate_key(key, self.config.max_key_bytes)
        memory = uses_memory(namespace, self.config) if use_memory is None else use_memory
        if memory:
            stats.l1_misses += 1
        seq = self._invalidations.seq
        full = redis_key(self.config.key_prefix, namespace, key)
        entry = await self._l2.get(full, stats, count=True)
        if entry is not None:
            now = self._clock()
            beta = self.config.xfetch_beta
            if not (
                xfetch_possible(entry.expires_at - now, entry.fetch_seconds, beta)
                and xfetch_should_refresh(
                    now, entry.expires_at, entry.fetch_seconds, beta, 1.0 - self._rng()
                )
            ):
                if memory:
                    self._l1_put(namespace, key, entry, seq)
                return entry.value  # type: ignore[no-any-return]  # JSON: Any
            stats.early_refreshes += 1
            try:
                return await self._flight.do(
                    (namespace, key),
                    lambda: self._fill(key, namespace, full, fetch, ttl, memory, seq, entry),
                )
            except Exception as exc:  # the value is still valid: serve it
                if self._l2.throttle.ready():
                    log.warning("cache early refresh of %s failed: %r", full, exc)
                return cast(T, entry.value)
        return await self._flight.do(
            (namespace, key),
            lambda: self._fill(key, namespace, full, fetch, ttl, memory, seq, None),
        )

    async def _fill(
        self,
        key: str,
        namespace: str,
        full: str,
        fetch: Callable[[], Awaitable[T]],
        ttl: float | None,
        memory: bool,
        seq: int,
        current: Entry | None,
    ) -> T:
        """One fill for this process: re-check L2, lock (or wait), fetch, store."""
        stats = self._ns(namespace)

        async def probe() -> Entry | None:
            return await self._l2.get(full, stats, count=False)

        def hit(found: Entry) -> T:
            if memory:
                self._l1_put(namespace, key, found, seq)
            return cast(T, found.value)

        if current is None:
            # Another flight (or process) may have stored it since our first read.
            found = await probe()
            if found is not None:
                return hit(found)
        lock_name = lock_key(self.config.key_prefix, namespace, key)
        token, contended = await self._l2.lock_acquire(lock_name, stats)
        if contended:
            if current is not None:
                return cast(T, current.value)  # another process is refreshing it
            token, found = await self._l2.lock_wait(lock_name, probe, stats)
            if found is not None:
                return hit(found)
        if token is not None and current is None:
            # Whether taken at once or after waiting: the previous holder may
            # have stored the value and released between our read and our SET NX.
            found = await probe()
            if found is not None:
                await self._l2.lock_release(lock_name, token)
                return hit(found)
        try:
            started = time.perf_counter()
            try:
                value = await fetch()
            except BaseException:
                stats.fetch_errors += 1
                raise
            seconds = time.perf_counter() - started
            stats.record_fetch(seconds)
            await self._store(namespace, key, full, value, seconds, ttl, memory, seq)
        finally:
            if token is not None:
                await self._l2.lock_release(lock_name, token)
        return value

    # ------------------------------------------------------------ write path

    async def _store(
        self,
        namespace: str,
        key: str,
        full: str,
        value: Any,
        fetch_seconds: float,
        ttl: float | None,
        memory: bool,
        seq: int,
    ) -> bool:
        stats = self._ns(namespace)
        ttl_s = ttl_for(namespace, self.config, value is None)
        if ttl is not None and value is not None:
            ttl_s = ttl
        if ttl_s is None:
            stats.not_stored += 1
            return False
        if self._invalidations.touched_since(seq, namespace, key):
            stats.not_stored += 1  # fetched before an invalidation: may be stale
            return False
        now = self._clock()
        expires_at = now + ttl_s
        data = encode(
            value,
            expires_at,
            fetch_seconds,
            max_bytes=self.config.max_value_bytes,
            oversize=self.config.oversize,
        )
        await self._l2.set(full, data, int(ttl_s * 1000), stats)
        if memory:
            self._l1_put(namespace, key, Entry(value, expires_at, fetch_seconds, len(data)), seq)
        return True

    def _l1_put(self, namespace: str, key: str, entry: Entry, seq: int) -> None:
        if self._invalidations.touched_since(seq, namespace, key):
            return
        now = self._clock()
        expires_at = l1_expiry(
            now,
            entry.expires_at,
            self.config.l1.max_ttl_s,
            entry.fetch_seconds,
            self.config.xfetch_beta,
        )
        if expires_at > now:
            stats = self._ns(namespace)
            self._l1.set((namespace, key), L1Entry(entry.value, expires_at, entry.size, stats))

    # ------------------------------------------------------------ invalidation

    async def invalidate(self, key: str, *, namespace: str = "default") -> bool:
        """Drop ``key`` from both tiers here and from L1 of every other instance."""
        validate_namespace(namespace)
        validate_key(key, self.config.max_key_bytes)
        item = Invalidation(namespace=namespace, key=key)
        self._apply_invalidation(item)
        try:
            removed = await self._backend.unlink(redis_key(self.config.key_prefix, namespace, key))
            await self._publish(item)
        except BACKEND_ERRORS as exc:
            raise CacheUnavailable(f"cache: cannot invalidate {namespace}:{key}: {exc}") from exc
        return removed > 0

    async def invalidate_pattern(self, pattern: str) -> int:
        """Drop every ``namespace:key`` matching the Redis glob ``pattern``; keys removed from L2.

        L2 is SCANned on every primary and UNLINKed in batches; L1 loses only
        the matching entries, here and (via pub/sub) in every other instance.
        """
        validate_pattern(pattern)
        item = Invalidation(pattern=pattern)
        self._apply_invalidation(item)
        try:
            removed = await self._backend.delete_matching(
                f"{self.config.key_prefix}:{pattern}", self.config.scan_batch
            )
            await self._publish(item)
        except BACKEND_ERRORS as exc:
            raise CacheUnavailable(f"cache: cannot invalidate {pattern!r}: {exc}") from exc
        return removed

    async def _publish(self, item: Invalidation) -> None:
        await self._backend.publish(self.config.invalidation_channel, item.encode(self.instance_id))

    def _apply_invalidation(self, item: Invalidation) -> None:
        self._invalidations.record(item)
        if item.pattern is not None:
            self._l1.delete_pattern(compile_glob(item.pattern))
        elif item.namespace is not None and item.key is not None:
            self._l1.delete((item.namespace, item.key))
            self._ns(item.namespace).invalidations += 1

    # ------------------------------------------------------------ warming

    def register_loader(
        self,
        name: str,
        loader: Callable[[], Awaitable[Any]],
        *,
        ttl_s: float | None = None,
        namespace: str | None = None,
    ) -> None:
        """Register a warm-up loader; TTL and namespace default to ``cache.warm_loaders[name]``."""
        settings = self.config.warm_loaders.get(name)
        ttl = ttl_s if ttl_s is not None else (settings.ttl_s if settings else None)
        if ttl is None or ttl <= 0:
            raise ValueError(f"cache.warm_loaders.{name}: no TTL configured or given")
        ns = namespace or (settings.namespace if settings else "warm")
        validate_key(name, self.config.max_key_bytes)
        self._loaders[name] = Loader(name, loader, ttl, validate_namespace(ns))

    async def warm_cache(self, names: list[str] | None = None) -> WarmSummary:
        """Run the registered loaders concurrently (bounded); failures are logged and counted."""

        async def store(loader: Loader, value: Any, seconds: float) -> None:
            full = redis_key(self.config.key_prefix, loader.namespace, loader.name)
            memory = uses_memory(loader.namespace, self.config)
            seq = self._invalidations.seq
            await self._store(
                loader.namespace, loader.name, full, value, seconds, loader.ttl_s, memory, seq
            )

        def failed(loader: Loader) -> None:
            self._ns(loader.namespace).warm_failures += 1

        configured = set(self.config.warm_loaders)
        chosen = [self._loaders[n] for n in (names or list(self._loaders)) if n in self._loaders]
        missing = sorted((set(names or configured)) - set(self._loaders))
        return await run_loaders(chosen, store, failed, self.config.warm_concurrency, missing)

    # ------------------------------------------------------------ stats

    def _ns(self, namespace: str) -> NamespaceStats:
        stats = self._stats.get(namespace)
        if stats is None:
            stats = self._stats[validate_namespace(namespace)] = NamespaceStats()
        return stats

    def stats(self) -> dict[str, Any]:
        """Counters per namespace and per tier, plus L1, breaker and listener state."""
        return {
            "instance_id": self.instance_id,
            "l1": {
                "entries": len(self._l1),
                "bytes": self._l1.bytes,
                "max_entries": self._l1.max_entries,
                "max_bytes": self._l1.max_bytes,
                "evictions": self._l1.evictions,
            },
            "breaker": {"state": self._l2.breaker.state, "opened": self._l2.breaker.opened_count},
            "invalidation": {
                "subscribed": self._bus.subscribed if self._bus else False,
                "received": self._bus.received if self._bus else 0,
                "reconnects": self._bus.reconnects if self._bus else 0,
            },
            "tiers": tiers(self._stats),
            "namespaces": {name: s.as_dict() for name, s in sorted(self._stats.items())},
        }
