"""The reference event-platform API: the load-test target, built on the real perfcore parts.

Endpoints map one-to-one onto the simulation's request classes, with the
same cache namespaces, so a Locust run measures what the model predicts:

=====================================  ====================  ===================
endpoint                               request class         cache namespace
=====================================  ====================  ===================
``GET /events/active``                 list_active_events    ``active_events``
``GET /events/{id}``                   event_detail          ``event_detail``
``GET /attendees/{id}``                attendee_profile      ``attendee_profile``
``POST /events/{id}/registrations``    register              invalidates three
``POST /events/{id}/checkins``         check_in              invalidates two
``GET /events/{id}/dashboard``         organizer_dashboard   ``dashboard``
``POST /events/{id}/exports``          export_report         (202, a queued job)
=====================================  ====================  ===================

Reads go through :class:`perfcore.cache.CacheManager` (L1 memory, L2 Redis);
writes invalidate what the simulation's ``invalidates`` lists say they do.
Database calls are synchronous SQLAlchemy run in Starlette's thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from perfcore.cache.manager import CacheManager, CacheUnavailable
from perfcore.cache.metrics import CacheCollector
from perfcore.config import PerfcoreConfig
from perfcore.queues import refdb
from perfcore.queues.manager import QueueManager
from perfcore.service import queries
from perfcore.service.exports import (
    Exporter,
    ExportJobType,
    InlineExporter,
    QueueExporter,
    job_data,
)
from perfcore.service.metrics import HttpMetrics, MetricsMiddleware
from perfcore.service.schema import SeedSize, create_schema, seed

P = ParamSpec("P")
T = TypeVar("T")


def utc_now() -> datetime:
    """Naive UTC, the form the reference schema stores."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ServiceOptions:
    """Behaviour of the reference API that is not a tuned platform parameter."""

    active_window: timedelta = timedelta(hours=12)  # events started this recently still list
    active_limit: int = 100
    dashboard_recent: timedelta = timedelta(minutes=15)  # the "recent check-ins" window
    seed: SeedSize | None = field(default_factory=SeedSize)  # None: leave the database as is
    clock: Callable[[], datetime] = utc_now


@dataclass
class ServiceState:
    """What the endpoints use, opened by the app's lifespan."""

    engine: Engine
    cache: CacheManager
    exporter: Exporter
    options: ServiceOptions

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def cached(self, namespace: str, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        return await self.cache.get_with_cache(key, fetch, namespace=namespace)

    async def invalidate(self, *items: tuple[str, str]) -> None:
        for namespace, key in items:
            await self.cache.invalidate(key, namespace=namespace)


class AttendeeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attendee_id: int = Field(gt=0)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_type: ExportJobType = "data_export"
    table: Literal["events", "registrations"] = "registrations"


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(_state)]


def _found(value: T | None, what: str) -> T:
    if value is None:
        raise HTTPException(status_code=404, detail=f"{what} not found")
    return value


def create_app(
    config: PerfcoreConfig,
    database_url: str,
    *,
    cache_url: str | None = None,
    queues_url: str | None = None,
    options: ServiceOptions | None = None,
) -> FastAPI:
    """The API on ``database_url`` with the cache on ``cache_url`` (default ``cache.redis_url``).

    Export jobs go to BullMQ on ``queues_url`` when given, else run in process.
    The schema is created on start-up and seeded (if empty) per ``options.seed``.
    """
    opts = options or ServiceOptions()
    cache_config = config.cache.model_copy(
        update={"redis_url": cache_url or config.cache.redis_url}
    )
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = refdb.connect(database_url)
        await run_in_threadpool(create_schema, engine)
        if opts.seed is not None:
            await run_in_threadpool(seed, engine, opts.clock(), opts.seed)
        cache = CacheManager(cache_config)
        exporter: Exporter
        if queues_url:
            exporter = QueueExporter(await QueueManager(config.queues, redis_url=queues_url).open())
        else:
            exporter = InlineExporter(engine, Path(config.queues.export_dir))
        state = ServiceState(engine, cache, exporter, opts)
        collector = CacheCollector(cache)
        registry.register(collector)
        try:
            await cache.start()
            cache.register_loader(
                "active_events", lambda: _load_active(state), namespace="active_events"
            )
            await cache.warm_cache(["active_events"])
            app.state.service = state
            yield
        finally:
            registry.unregister(collector)
            await exporter.close()
            await cache.close()
            engine.dispose()

    app = FastAPI(title="perfcore reference event platform", lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))

    @app.exception_handler(CacheUnavailable)
    async def _cache_down(request: Request, exc: CacheUnavailable) -> JSONResponse:
        # The write is committed but its invalidation was not: writes are idempotent, so retrying is safe.
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(queries.NotFound)
    async def _not_found(request: Request, exc: queries.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(queries.Conflict)
    async def _conflict(request: Request, exc: queries.Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.get("/healthz")
    async def healthz(s: State) -> JSONResponse:
        try:
            await s.db(_ping, s.engine)
        except Exception as exc:  # any driver error means "not ready"
            return JSONResponse({"status": "unavailable", "database": repr(exc)}, status_code=503)
        breaker = s.cache.stats()["breaker"]["state"]
        return JSONResponse({"status": "ok", "database": "ok", "cache_breaker": breaker})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/events/active")
    async def list_active_events(s: State) -> list[dict[str, Any]]:
        return await s.cached("active_events", "active_events", lambda: _load_active(s))

    @app.get("/events/{event_id}")
    async def event_detail(event_id: int, s: State) -> dict[str, Any]:
        found = await s.cached(
            "event_detail", str(event_id), lambda: s.db(queries.event_detail, s.engine, event_id)
        )
        return _found(found, f"event {event_id}")

    @app.get("/attendees/{attendee_id}")
    async def attendee_profile(attendee_id: int, s: State) -> dict[str, Any]:
        found = await s.cached(
            "attendee_profile",
            str(attendee_id),
            lambda: s.db(queries.attendee_profile, s.engine, attendee_id),
        )
        return _found(found, f"attendee {attendee_id}")

    @app.get("/events/{event_id}/dashboard")
    async def organizer_dashboard(event_id: int, s: State) -> dict[str, Any]:
        def load() -> Awaitable[dict[str, Any] | None]:
            now, recent = s.options.clock(), s.options.dashboard_recent
            return s.db(queries.dashboard, s.engine, event_id, now, recent)

        return _found(await s.cached("dashboard", str(event_id), load), f"event {event_id}")

    @app.post("/events/{event_id}/registrations")
    async def register(event_id: int, body: AttendeeRef, s: State) -> JSONResponse:
        result = await s.db(
            queries.register, s.engine, event_id, body.attendee_id, s.options.clock()
        )
        await s.invalidate(
            ("event_detail", str(event_id)),
            ("attendee_profile", str(body.attendee_id)),
            ("dashboard", str(event_id)),
        )
        return JSONResponse(result.body, status_code=201 if result.created else 200)

    @app.post("/events/{event_id}/checkins")
    async def check_in(event_id: int, body: AttendeeRef, s: State) -> JSONResponse:
        result = await s.db(
            queries.check_in, s.engine, event_id, body.attendee_id, s.options.clock()
        )
        await s.invalidate(
            ("attendee_profile", str(body.attendee_id)), ("dashboard", str(event_id))
        )
        return JSONResponse(result.body, status_code=201 if result.created else 200)

    @app.post("/events/{event_id}/exports", status_code=202)
    async def export_report(
        event_id: int, s: State, body: ExportRequest | None = None
    ) -> dict[str, Any]:
        request = body or ExportRequest()
        _found(await s.db(queries.event_detail, s.engine, event_id), f"event {event_id}")
        data = job_data(request.job_type, event_id, request.table)
        return {"event_id": event_id, **await s.exporter.submit(request.job_type, data)}

    return app


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _load_active(s: ServiceState) -> list[dict[str, Any]]:
    now, opts = s.options.clock(), s.options
    return await s.db(queries.active_events, s.engine, now, opts.active_window, opts.active_limit)
