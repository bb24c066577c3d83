"""Invalidation across processes: a pub/sub bus, and a log that guards in-flight fills.

Every cache instance on the same Redis subscribes to one channel.  An
invalidation is applied locally first, then published as JSON
``{"o": origin, "ns": namespace, "k": key}`` or ``{"o": origin, "p": pattern}``;
receivers skip their own messages (``o`` is the instance id) and drop the
matching L1 entries.  The listener reconnects by itself; after a gap it asks
the owner to flush L1, since messages sent meanwhile are lost.

:class:`InvalidationLog` closes a race: a fill that started *before* an
invalidation of its key may finish *after* it, and must not then store the
(possibly stale) value it fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from perfcore.cache.backend import BACKEND_ERRORS, RedisBackend
from perfcore.cache.breaker import LogThrottle
from perfcore.cache.keys import compile_glob, validate_namespace, validate_pattern

log = logging.getLogger("perfcore.cache")

# How many recent invalidations the log remembers; a fill older than that is
# treated as invalidated (conservative: it only costs one skipped store).
_LOG_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Invalidation:
    """One key (``namespace`` + ``key``) or one glob ``pattern`` over ``namespace:key``."""

    namespace: str | None = None
    key: str | None = None
    pattern: str | None = None

    def matches(self, namespace: str, key: str) -> bool:
        if self.pattern is not None:
            return compile_glob(self.pattern).fullmatch(f"{namespace}:{key}") is not None
        return self.namespace == namespace and self.key == key

    def encode(self, origin: str) -> bytes:
        if self.pattern is not None:
            return orjson.dumps({"o": origin, "p": self.pattern})
        return orjson.dumps({"o": origin, "ns": self.namespace, "k": self.key})

    @staticmethod
    def decode(data: bytes) -> tuple[str, Invalidation]:
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("o"), str):
            raise ValueError("not an invalidation message")
        if isinstance(doc.get("p"), str):
            return doc["o"], Invalidation(pattern=validate_pattern(doc["p"]))
        if isinstance(doc.get("ns"), str) and isinstance(doc.get("k"), str):
            namespace = validate_namespace(doc["ns"])
            return doc["o"], Invalidation(namespace=namespace, key=doc["k"])
        raise ValueError("invalidation message without key or pattern")


class InvalidationLog:
    """Sequence-numbered recent invalidations."""

    def __init__(self, size: int = _LOG_SIZE) -> None:
        self.seq = 0
        self._recent: deque[tuple[int, Invalidation]] = deque(maxlen=size)

    def record(self, item: Invalidation) -> None:
        self.seq += 1
        self._recent.append((self.seq, item))

    def touched_since(self, seq: int, namespace: str, key: str) -> bool:
        """Whether ``namespace:key`` may have been invalidated after ``seq``."""
        if seq == self.seq:
            return False
        if not self._recent or self._recent[0][0] > seq + 1:
            return True  # older than what we remember
        return any(s > seq and item.matches(namespace, key) for s, item in self._recent)


class InvalidationBus:
    def __init__(
        self,
        backend: RedisBackend,
        channel: str,
        instance_id: str,
        apply: Callable[[Invalidation], None],
        on_gap: Callable[[], None],
        retry_s: float,
        log_interval_s: float,
    ) -> None:
        self._backend = backend
        self.channel = channel
        self.instance_id = instance_id
        self._apply = apply
        self._on_gap = on_gap
        self._retry_s = retry_s
        self._throttle = LogThrottle(log_interval_s)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.received = 0
        self.reconnects = 0

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def start(self, wait_s: float) -> bool:
        """Start listening; wait up to ``wait_s`` for the subscription to be active."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="cache-invalidation")
        try:
            await asyncio.wait_for(self._subscribed.wait(), wait_s)
        except TimeoutError:
            return False
        return True

    async def publish(self, item: Invalidation) -> None:
        await self._backend.publish(self.channel, item.encode(self.instance_id))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _listen(self) -> None:
        had_gap = False
        while True:
            pubsub: Any = None
            try:
                pubsub = await self._backend.pubsub()
                await pubsub.subscribe(self.channel)
                if had_gap:
                    self.reconnects += 1
                    self._on_gap()
                    had_gap = False
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._handle(message["data"])
            except Exception as exc:
                # Any failure (not only connection errors: a cluster client can
                # raise on a changing slot map) must not end the listener.
                self._subscribed.clear()
                had_gap = True
                if self._throttle.ready():
                    log.warning("cache invalidation listener disconnected: %r", exc)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(*BACKEND_ERRORS):
                        await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(self._retry_s)

    def _handle(self, data: bytes) -> None:
        try:
            origin, item = Invalidation.decode(data)
        except (ValueError, orjson.JSONDecodeError):
            log.warning("ignoring malformed cache invalidation message")
            return
        if origin == self.instance_id:
            return  # applied locally before publishing
        self.received += 1
        self._apply(item)
