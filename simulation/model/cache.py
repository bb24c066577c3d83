"""The two-tier cache's state: an L1 dict per API replica and one shared L2, per key.

Decisions are not made here: TTLs come from :func:`perfcore.cache.policy.ttl_for`,
L1 lifetimes from :func:`~perfcore.cache.policy.l1_expiry` and early refresh
from :func:`~perfcore.cache.policy.xfetch_should_refresh` -- the functions the
real cache manager calls (the request path in :mod:`simulation.model.requests`
calls them per request).

Keys of all namespaces live in one flat index space (``offset[namespace] +
local key``) so the L2 state is flat lists: expiry time, the time of the
last invalidation, the last fetch duration (XFetch's *delta*) and the fetch in
flight (when it lands, and the expiry it brings). An
invalidation sets the L2 expiry to 0 and records its time; an L1 copy is valid
only while unexpired *and* stored after the key's last invalidation -- the same
effect as the invalidation bus dropping the key from every replica's L1,
without touching every replica on every write.
"""

from __future__ import annotations

from perfcore.cache.policy import ttl_for, uses_memory
from perfcore.config import CacheConfig
from perfcore.platform import PLATFORM, KeySpace
from simulation.scenario import InfrastructureSpec

L1Entry = tuple[float, float]  # (expires_at, stored_at)


class CacheTier:
    """Per-key L2 state, per-replica L1 dicts, and per-namespace settings."""

    def __init__(
        self,
        config: CacheConfig,
        infra: InfrastructureSpec,
        key_space_sizes: dict[str, int],
        replicas: int,
    ) -> None:
        self.config = config
        self.enabled = infra.cache.enabled
        self.namespace_space: dict[str, KeySpace] = dict(PLATFORM.namespaces)
        self.offset: dict[str, int] = {}
        total = 0
        for ns, space in self.namespace_space.items():
            self.offset[ns] = total
            total += key_space_sizes[space]
        self.l2_expires: list[float] = [0.0] * total
        self.invalidated_at: list[float] = [-1.0] * total
        self.fetch_s: list[float] = [0.0] * total
        # A fetch in flight: when it lands (0: none) and the expiry it brings.
        self.landing_at: list[float] = [0.0] * total
        self.next_expires: list[float] = [0.0] * total
        # When a write first left the cached value out of date (0: up to date).
        self.dirty_at: list[float] = [0.0] * total
        self.l1: list[dict[int, L1Entry]] = [{} for _ in range(replicas)]
        self.l1_max_ttl = config.l1.max_ttl_s
        self.l1_max_entries = config.l1.max_entries

    def ttl(self, namespace: str) -> float | None:
        """The L2 TTL of a found value in ``namespace`` (the production policy)."""
        return ttl_for(namespace, self.config, value_is_none=False)

    def uses_l1(self, namespace: str) -> bool:
        return uses_memory(namespace, self.config)

    def resize(self, replicas: int) -> None:
        """New replicas start with an empty L1; removed replicas take theirs along."""
        del self.l1[replicas:]
        self.l1.extend({} for _ in range(replicas - len(self.l1)))

    @property
    def l1_entries(self) -> int:
        return sum(len(d) for d in self.l1)


def trim_l1(l1: dict[int, L1Entry], now: float, max_entries: int) -> None:
    """Bound an L1 dict: drop expired entries, then the oldest stored, down to 3/4 of the bound.

    Trimming in bulk keeps the cost per insert constant (evicting one entry per
    insert from the front of a dict is slow in CPython); the L1 holds between
    3/4 and all of ``max_entries`` entries, oldest evicted first.
    """
    live = [(k, v) for k, v in l1.items() if v[0] > now]
    keep = max_entries * 3 // 4
    if len(live) > keep:
        live.sort(key=lambda item: item[1][1])
        live = live[len(live) - keep :]
    l1.clear()
    l1.update(live)
