"""Optional Prometheus export of the cache counters, read at scrape time.

A collector (rather than Counter objects bumped per request) keeps the L1 hit
path free of metric calls: the manager's plain counters are turned into
metric families only when Prometheus scrapes.

    from prometheus_client import REGISTRY
    REGISTRY.register(CacheCollector(cache))
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from perfcore.cache.manager import CacheManager

# counter name in NamespaceStats -> (tier label, event label)
_TIERED = {
    "l1_hits": ("l1", "hit"),
    "l1_misses": ("l1", "miss"),
    "l2_hits": ("l2", "hit"),
    "l2_misses": ("l2", "miss"),
}
_PLAIN = (
    "l2_errors",
    "fetch_errors",
    "early_refreshes",
    "lock_waits",
    "lock_timeouts",
    "not_stored",
    "invalidations",
    "warm_failures",
)


class CacheCollector(Collector):
    def __init__(self, cache: CacheManager, prefix: str = "perfcore_cache") -> None:
        self._cache = cache
        self._prefix = prefix

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | SummaryMetricFamily]:
        stats = self._cache.stats()
        p = self._prefix
        lookups = CounterMetricFamily(
            f"{p}_lookups",
            "Cache lookups by tier and outcome",
            labels=["namespace", "tier", "result"],
        )
        fetch = SummaryMetricFamily(
            f"{p}_fetch_seconds", "Time spent in fetch() on misses", labels=["namespace"]
        )
        plain = {
            name: CounterMetricFamily(f"{p}_{name}", name.replace("_", " "), labels=["namespace"])
            for name in _PLAIN
        }
        for namespace, counters in stats["namespaces"].items():
            for name, (tier, result) in _TIERED.items():
                lookups.add_metric([namespace, tier, result], counters[name])
            fetch.add_metric([namespace], counters["fetches"], counters["fetch_seconds_total"])
            for name, family in plain.items():
                family.add_metric([namespace], counters[name])
        yield lookups
        yield fetch
        yield from plain.values()
        yield GaugeMetricFamily(f"{p}_l1_entries", "Entries in L1", value=stats["l1"]["entries"])
        yield GaugeMetricFamily(f"{p}_l1_bytes", "Approximate L1 bytes", value=stats["l1"]["bytes"])
        yield GaugeMetricFamily(
            f"{p}_breaker_open",
            "1 while the Redis circuit breaker is not closed",
            value=0 if stats["breaker"]["state"] == "closed" else 1,
        )
