"""Cache counters per namespace, and their roll-up per tier.

Counters are plain attributes bumped inline (no locks: one event loop), so a
hit costs one attribute increment.  Prometheus reads them at scrape time
(:mod:`perfcore.cache.metrics`) rather than being called on the hot path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class NamespaceStats:
    l1_hits: int = 0
    l1_misses: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    l2_errors: int = 0
    fetches: int = 0
    fetch_errors: int = 0
    fetch_seconds_total: float = 0.0
    fetch_seconds_max: float = 0.0
    early_refreshes: int = 0
    lock_waits: int = 0
    lock_timeouts: int = 0
    not_stored: int = 0
    invalidations: int = 0
    warm_failures: int = 0

    def record_fetch(self, seconds: float) -> None:
        self.fetches += 1
        self.fetch_seconds_total += seconds
        self.fetch_seconds_max = max(self.fetch_seconds_max, seconds)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fetch_seconds_mean"] = (
            self.fetch_seconds_total / self.fetches if self.fetches else 0.0
        )
        return data


COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(NamespaceStats))


def tiers(per_namespace: dict[str, NamespaceStats]) -> dict[str, dict[str, float]]:
    """Totals per tier (L1, L2, fetch) over every namespace."""
    total = NamespaceStats()
    for ns in per_namespace.values():
        for name in COUNTERS:
            if name == "fetch_seconds_max":
                total.fetch_seconds_max = max(total.fetch_seconds_max, ns.fetch_seconds_max)
            else:
                setattr(total, name, getattr(total, name) + getattr(ns, name))
    lookups_l1 = total.l1_hits + total.l1_misses
    lookups_l2 = total.l2_hits + total.l2_misses
    return {
        "l1": {
            "hits": total.l1_hits,
            "misses": total.l1_misses,
            "hit_ratio": total.l1_hits / lookups_l1 if lookups_l1 else 0.0,
        },
        "l2": {
            "hits": total.l2_hits,
            "misses": total.l2_misses,
            "errors": total.l2_errors,
            "hit_ratio": total.l2_hits / lookups_l2 if lookups_l2 else 0.0,
        },
        "fetch": {
            "fetches": total.fetches,
            "errors": total.fetch_errors,
            "seconds_total": total.fetch_seconds_total,
            "seconds_max": total.fetch_seconds_max,
            "early_refreshes": total.early_refreshes,
        },
    }
