"""Prometheus metrics of the service's HTTP traffic, per route template.

Each app gets its own :class:`CollectorRegistry`, so several apps in one
process (tests, or an embedding server) never clash on metric names.  Request
metrics are labelled by the route *template* (``/events/{event_id}``), never the
raw path, which would give one time series per event id.  The cache's own
counters come from :class:`perfcore.cache.metrics.CacheCollector` in the same registry.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# One set of buckets for every latency the server records (routes, queries, Redis):
# fine below a millisecond, where cache hits and Redis round trips lie, so that
# calibration can read their spread, and fine from 1 to 100 ms.
LATENCY_BUCKETS = (
    0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004,
    0.005, 0.0065, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08,
    0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0,
)  # fmt: skip


class HttpMetrics:
    """Request count and latency per method, route template and status; cache results per route."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "perfcore_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "perfcore_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

        self.cache_results = Counter(
            "perfcore_route_cache_results",
            "Cached reads per route: served from the cache (hit) or fetched (miss)",
            ["route", "result"],
            registry=registry,
        )

    def cache_result(self, route: str, hit: bool) -> None:
        self.cache_results.labels(route, "hit" if hit else "miss").inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body buffering) timing every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router stores the matched route in the scope; unmatched paths share one label.
            route = getattr(scope.get("route"), "path", "(unmatched)")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
