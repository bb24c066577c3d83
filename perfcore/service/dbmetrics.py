"""Prometheus metrics of the service's database work: query time per query class, the pool.

``perfcore_db_query_duration_seconds{query}`` times each database call as the
event loop sees it on its worker thread: pool checkout, driver work and the
statements -- the service time the model charges a database connection.
Pool gauges (size, checked out, overflow) and counters of new connections and
checkouts come from SQLAlchemy's pool events, so pool overflow churn (new
connections opened beyond ``pool_size`` and closed again) is visible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from perfcore.service.metrics import LATENCY_BUCKETS

P = ParamSpec("P")
T = TypeVar("T")

# Each service function's platform query class (perfcore/platform/platform.yaml).
QUERY_CLASS = {
    "active_events": "list_active_events",
    "event_detail": "event_by_id",
    "attendee_profile": "attendee_by_id",
    "session_page": "session_by_id",
    "register": "insert_registration",
    "check_in": "insert_checkin",
    "dashboard": "dashboard_stats",
}


class DbMetrics:
    """Query timing per class and the pool state of the bound engine, in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.duration = Histogram(
            "perfcore_db_query_duration_seconds",
            "Database call time on a worker thread (checkout, driver, statements)",
            ["query"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.connects = Counter(
            "perfcore_db_pool_connections_opened", "New database connections", registry=registry
        )
        self.checkouts = Counter(
            "perfcore_db_pool_checkouts", "Connections taken from the pool", registry=registry
        )

    def bind(self, engine: Engine) -> Callable[[], None]:
        """Count ``engine``'s connections and report its pool; returns the undo (at shutdown)."""
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "checkout", self._checked_out)
        collector = _PoolCollector(engine)
        self.registry.register(collector)

        def unbind() -> None:
            self.registry.unregister(collector)
            event.remove(engine, "connect", self._connected)
            event.remove(engine, "checkout", self._checked_out)

        return unbind

    def _connected(self, *_: Any) -> None:
        self.connects.inc()

    def _checked_out(self, *_: Any) -> None:
        self.checkouts.inc()

    def timed(self, fn: Callable[P, T]) -> Callable[P, T]:
        """``fn`` timed under its query class (service functions outside the table: their name)."""
        name = getattr(fn, "__name__", "other")
        hist = self.duration.labels(QUERY_CLASS.get(name, name))

        @wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                hist.observe(time.perf_counter() - started)

        return run


class _PoolCollector:
    """Gauges read from the pool at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Any:
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            return
        for name, value, text in (
            ("size", pool.size(), "Configured pool size"),
            ("checked_out", pool.checkedout(), "Connections in use"),
            ("overflow", max(pool.overflow(), 0), "Connections open beyond the pool size"),
        ):
            yield GaugeMetricFamily(f"perfcore_db_pool_{name}", text, value=float(value))
