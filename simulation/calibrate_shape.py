"""Calibration of service-time shapes: how spread out a handler's CPU and a query's time are.

The model draws every CPU burst and every query time from a distribution
around its mean (``infrastructure.api.service`` and ``infrastructure.db.service``).
Exponential draws, the default, put the 95th percentile at three times the mean;
a measured server is far tighter (on the reference service a cache hit's 95th
percentile is under twice its median), so an exponential model over-predicts
every tail that is not queueing. Calibration fits a lognormal to each, from
quantiles the server measured:

* the handler's CPU from the **hits** of cached routes served by L1: such a hit
  is one CPU burst and nothing else, and the hits are a route's fastest
  requests (quantiles ``0 .. h`` of the route, ``h`` its hit ratio);
* a query's time from every query class's call times.

The spread is read between the median and the upper quartile, which the
cold start of a run (a tail of requests queued behind the first misses)
leaves alone: ``sigma = ln(q75 / q50) / z75``, pooled over routes or query
classes weighted by their counts. The model's fields are means, and a
lognormal's mean is its median times ``exp(sigma**2 / 2)``: :class:`Shape`
carries that factor for the medians the rest of calibration reads off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perfcore.platform import PLATFORM
from simulation.calibrate_core import Fitted
from simulation.measured import ENDPOINT_CLASS, Histogram, ServerDelta

Z75 = 0.6745  # the standard normal's upper quartile
L1_SERVED = 0.8  # a route counts for the CPU's spread when this share of its hits is from L1


@dataclass(frozen=True)
class Shape:
    """A fitted lognormal spread (``sigma`` of the log), or none (``sigma`` is None)."""

    sigma: float | None

    @property
    def cv(self) -> float:
        return math.sqrt(math.expm1(self.sigma**2)) if self.sigma else 0.0

    @property
    def mean_per_median(self) -> float:
        return math.exp(self.sigma**2 / 2) if self.sigma else 1.0


def _sigma(h: Histogram, share: float) -> float | None:
    """Log spread of the fastest ``share`` of the requests in ``h``."""
    median = h.quantile(share * 0.5)
    upper = h.quantile(share * 0.75)
    if not median > 0 or not upper > median:
        return None
    return math.log(upper / median) / Z75


def _pooled(items: list[tuple[float, float]]) -> float | None:
    """Count-weighted mean of (sigma, count) pairs."""
    total = sum(n for _, n in items)
    return sum(s * n for s, n in items) / total if total else None


def l1_hits(delta: ServerDelta, endpoint: str, min_requests: int) -> tuple[float, float] | None:
    """(hits, hit ratio) of a cached route whose hits L1 serves, with enough hits; else None.

    Such a hit is one CPU burst and nothing else, and the hits are the route's
    fastest requests: quantiles ``0 .. ratio`` of its latency.
    """
    ns = PLATFORM.request_classes[ENDPOINT_CLASS[endpoint]].namespace
    seen = delta.cache.get(endpoint, {})
    hits, misses = seen.get("hit", 0.0), seen.get("miss", 0.0)
    l1 = delta.lookups.get((ns, "l1", "hit"), 0.0) if ns else 0.0
    l2 = delta.lookups.get((ns, "l2", "hit"), 0.0) if ns else 0.0
    if ns is None or hits < min_requests or l1 < L1_SERVED * (l1 + l2):
        return None
    return hits, hits / (hits + misses)


def cpu_shape(delta: ServerDelta, min_requests: int) -> tuple[Shape, int, str]:
    """The handlers' CPU spread from L1-served hits: (shape, hits used, routes used)."""
    items: list[tuple[float, float]] = []
    used: list[str] = []
    for endpoint, h in sorted(delta.routes.items()):
        served = l1_hits(delta, endpoint, min_requests)
        sigma = _sigma(h, served[1]) if served else None
        if served and sigma is not None:
            items.append((sigma, served[0]))
            used.append(endpoint)
    return Shape(_pooled(items)), int(sum(n for _, n in items)), ", ".join(used)


def db_shape(delta: ServerDelta, min_requests: int) -> tuple[Shape, int]:
    """The queries' spread, pooled over every query class with enough calls."""
    items = [
        (s, h.count)
        for h in delta.queries.values()
        if h.count >= min_requests and (s := _sigma(h, 1.0)) is not None
    ]
    return Shape(_pooled(items)), int(sum(n for _, n in items))


def shape_fit(delta: ServerDelta, min_requests: int) -> tuple[list[Fitted], Shape, Shape]:
    """The four distribution fields (where the data allows) and the two shapes."""
    out: list[Fitted] = []
    cpu, n_cpu, routes = cpu_shape(delta, min_requests)
    if cpu.sigma is not None:
        how = f"L1 hits of {routes}: sigma {cpu.sigma:.3f} from their median and upper quartile"
        out += [
            Fitted("infrastructure.api.service", "lognormal", n_cpu, how),
            Fitted("infrastructure.api.service_cv", cpu.cv, n_cpu, how),
        ]
    db, n_db = db_shape(delta, min_requests)
    if db.sigma is not None:
        how = f"every query class: sigma {db.sigma:.3f} from the median and upper quartile"
        out += [
            Fitted("infrastructure.db.service", "lognormal", n_db, how),
            Fitted("infrastructure.db.service_cv", db.cv, n_db, how),
        ]
    return out, cpu, db
