"""The reference event-platform API: the load-test target, built on the real perfcore parts.

Its routes are the request classes of :data:`perfcore.platform.PLATFORM`:
each route's method and path, the cache namespace and key of a read, the
namespaces a write invalidates (and with which key), and the jobs a request
enqueues all come from the platform description, so a Locust run measures
what the simulation models. Each handler only says how to fetch or write.

Reads go through :class:`perfcore.cache.CacheManager` (L1 memory, L2 Redis);
database calls are synchronous SQLAlchemy run in Starlette's thread pool.
"""

from __future__ import annotations

import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from perfcore.cache.manager import CacheManager, CacheUnavailable
from perfcore.cache.metrics import CacheCollector
from perfcore.config import PerfcoreConfig
from perfcore.platform import PLATFORM
from perfcore.platform.database import connect
from perfcore.platform.model import GLOBAL_KEY, ROLE_KEY
from perfcore.platform.schema import create_schema
from perfcore.platform.seed import SeedSize, seed
from perfcore.queues.handlers import ExportTable
from perfcore.queues.manager import QueueManager
from perfcore.service import queries
from perfcore.service.auth import load_secret, subject_for, verify
from perfcore.service.dbmetrics import DbMetrics
from perfcore.service.embedded import embedded_cache
from perfcore.service.health import dependencies, health
from perfcore.service.jobs import InlineJobs, JobSink, QueueJobs, job_data
from perfcore.service.l2metrics import l2_histogram, timed_backend
from perfcore.service.metrics import HttpMetrics, MetricsMiddleware
from perfcore.service.ratelimit import RateLimit

P = ParamSpec("P")
T = TypeVar("T")
WriteQuery = Callable[[Engine, int, int, datetime], queries.WriteResult]


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
    job_seed: int | None = None  # seeds the draw of the jobs a request enqueues (tests)
    embedded_cache: bool = False  # no cache Redis: an in-process L2 (perfcore.service.embedded)


@dataclass(frozen=True)
class Observers:
    """The service's own metrics: HTTP and cache results per route, database calls and pool."""

    http: HttpMetrics
    db: DbMetrics


@dataclass
class ServiceState:
    """What the endpoints use, opened by the app's lifespan."""

    engine: Engine
    cache: CacheManager
    jobs: JobSink
    options: ServiceOptions
    rng: random.Random
    observe: Observers
    secret: bytes
    exports: RateLimit

    def authorize(self, request_class: str, caller: str | None, params: dict[str, Any]) -> None:
        """Refuse a caller the platform description does not allow here (401/403)."""
        role = PLATFORM.request_classes[request_class].auth
        space = ROLE_KEY[role]
        if space is None:
            return
        if caller is None:
            raise HTTPException(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        param = PLATFORM.key_spaces[space]
        assert param is not None
        if caller != subject_for(role, int(params[param])):
            raise HTTPException(403, f"this token is not the {role} of this {space}")

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(self.observe.db.timed(fn), *args, **kwargs)

    async def read(
        self,
        request_class: str,
        params: dict[str, Any],
        fetch: Callable[[], Awaitable[T]],
        caller: str | None = None,
    ) -> T:
        """A read of ``request_class``, cached in its namespace under its key."""
        self.authorize(request_class, caller, params)
        rc = PLATFORM.request_classes[request_class]
        assert rc.namespace is not None, f"{request_class} is not a cached read"
        key = PLATFORM.cache_key(rc.key, params)
        missed = False

        async def fetch_counted() -> T:
            nonlocal missed
            missed = True
            return await fetch()

        value = await self.cache.get_with_cache(key, fetch_counted, namespace=rc.namespace)
        self.observe.http.cache_result(rc.endpoint.path, hit=not missed)
        return value

    async def write(
        self,
        request_class: str,
        query: WriteQuery,
        event_id: int,
        body: AttendeeRef,
        caller: str | None,
    ) -> JSONResponse:
        """Run an attendee's write, then what the platform says follows it."""
        self.authorize(request_class, caller, {"event_id": event_id, **body.model_dump()})
        result = await self.db(query, self.engine, event_id, body.attendee_id, self.options.clock())
        jobs = await self.after_write(request_class, {"event_id": event_id, **body.model_dump()})
        status = 201 if result.created else 200
        return JSONResponse({**result.body, "jobs": jobs}, status_code=status)

    async def after_write(self, request_class: str, params: dict[str, Any]) -> list[str]:
        """Invalidate what the write touched, then enqueue its jobs; returns their types."""
        for inv in PLATFORM.request_classes[request_class].invalidates:
            await self.cache.invalidate(
                PLATFORM.cache_key(inv.key, params), namespace=inv.namespace
            )
        picked = PLATFORM.jobs_for(request_class, self.rng.random)
        if picked:
            event_id = int(params["event_id"])
            recipient = await self.db(queries.attendee_contact, self.engine, params["attendee_id"])
            subject = f"{request_class.replace('_', ' ')}: event {event_id}"
            for job_type in picked:
                data = job_data(job_type, event_id, recipient=recipient or "", subject=subject)
                await self.jobs.submit(job_type, data)
        return picked


# Ids are the schema's INT columns: anything outside answers 422, never reaches the driver.
MAX_ID = 2**31 - 1
PathId = Annotated[int, FastApiPath(ge=1, le=MAX_ID)]


class AttendeeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attendee_id: int = Field(gt=0, le=MAX_ID)


EXPORT_JOBS = tuple(PLATFORM.request_classes["export_report"].jobs)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_type: str = Field("data_export", description=f"one of {', '.join(EXPORT_JOBS)}")
    table: ExportTable = "registrations"

    @field_validator("job_type")
    @classmethod
    def _an_export_job(cls, value: str) -> str:
        # The platform description lists what the export endpoint may enqueue.
        if value not in EXPORT_JOBS:
            raise ValueError(f"job_type must be one of {', '.join(EXPORT_JOBS)}")
        return value


# The dependencies are coroutines on purpose: FastAPI runs a plain ``def``
# dependency in the thread pool, and two thread hops per request cost more than
# the work (each hop waits for the GIL behind the event loop and the query threads).
async def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(_state)]


async def _caller(request: Request) -> str | None:
    """The subject of the request's valid bearer token, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    state: ServiceState = request.app.state.service
    return verify(state.secret, token.strip())


Caller = Annotated[str | None, Depends(_caller)]


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
    ProcessCollector(registry=registry)  # the process's CPU seconds: calibration's CPU truth
    observe = Observers(HttpMetrics(registry), DbMetrics(registry))
    l2_time = l2_histogram(registry)
    pool = config.service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A query's driver work runs on a worker thread; each time it needs the GIL
        # while the loop computes, it waits up to this interval (see docs/fidelity.md).
        sys.setswitchinterval(pool.gil_switch_ms / 1000.0)
        engine = connect(
            database_url, pool_size=pool.db_pool_size, max_overflow=pool.db_max_overflow
        )
        unbind_pool = observe.db.bind(engine)
        await run_in_threadpool(create_schema, engine)
        if opts.seed is not None:
            await run_in_threadpool(seed, engine, opts.clock(), opts.seed)
        cache = (
            embedded_cache(cache_config)
            if opts.embedded_cache
            else CacheManager(cache_config, backend=timed_backend(cache_config, l2_time))
        )
        jobs: JobSink
        if queues_url:
            jobs = QueueJobs(await QueueManager(config.queues, redis_url=queues_url).open())
        else:
            jobs = InlineJobs(engine, Path(config.queues.export_dir))
        state = ServiceState(
            engine,
            cache,
            jobs,
            opts,
            random.Random(opts.job_seed),
            observe,
            load_secret(config.service),
            RateLimit(config.service.exports_per_minute, 60.0),
        )
        app.state.deps = dependencies(
            lambda: run_in_threadpool(_ping, engine), cache_config, queues_url, opts.embedded_cache
        )
        collector = CacheCollector(cache)
        registry.register(collector)
        try:
            await cache.start()
            # Warm the listing exactly as a read would store it (same namespace, key, TTL).
            listing = PLATFORM.request_classes["list_active_events"].namespace
            assert listing is not None
            cache.register_loader(
                GLOBAL_KEY,
                lambda: _load_active(state),
                ttl_s=cache_config.namespace(listing).ttl_s,
                namespace=listing,
            )
            await cache.warm_cache([GLOBAL_KEY])
            app.state.service = state
            yield
        finally:
            registry.unregister(collector)
            unbind_pool()
            await jobs.close()
            await cache.close()
            engine.dispose()

    docs = config.service.docs  # the OpenAPI document is still app.openapi() in process
    app = FastAPI(
        title="perfcore reference event platform",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(MetricsMiddleware, metrics=observe.http)

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
    async def healthz(request: Request, s: State) -> JSONResponse:
        breaker = s.cache.stats()["breaker"]["state"]
        status, body = await health(request.app.state.deps, {"cache_breaker": breaker})
        return JSONResponse(body, status_code=status)

    if config.service.metrics != "off":

        @app.get("/metrics")
        async def metrics(caller: Caller) -> Response:
            if config.service.metrics == "operator" and caller != subject_for("operator", None):
                raise HTTPException(
                    401, "an operator token is required", headers={"WWW-Authenticate": "Bearer"}
                )
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def route(request_class: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """Register a handler at the request class's method and path template."""
        endpoint = PLATFORM.request_classes[request_class].endpoint
        return app.api_route(endpoint.path, methods=[endpoint.method], name=request_class)

    @route("list_active_events")
    async def list_active_events(s: State) -> list[dict[str, Any]]:
        return await s.read("list_active_events", {}, lambda: _load_active(s))

    @route("event_detail")
    async def event_detail(event_id: PathId, s: State) -> dict[str, Any]:
        found = await s.read(
            "event_detail",
            {"event_id": event_id},
            lambda: s.db(queries.event_detail, s.engine, event_id),
        )
        return _found(found, f"event {event_id}")

    @route("attendee_profile")
    async def attendee_profile(attendee_id: PathId, s: State, caller: Caller) -> dict[str, Any]:
        found = await s.read(
            "attendee_profile",
            {"attendee_id": attendee_id},
            lambda: s.db(queries.attendee_profile, s.engine, attendee_id),
            caller,
        )
        return _found(found, f"attendee {attendee_id}")

    @route("session_page")
    async def session_page(session_id: PathId, s: State) -> dict[str, Any]:
        found = await s.read(
            "session_page",
            {"session_id": session_id},
            lambda: s.db(queries.session_page, s.engine, session_id),
        )
        return _found(found, f"session {session_id}")

    @route("organizer_dashboard")
    async def organizer_dashboard(event_id: PathId, s: State, caller: Caller) -> dict[str, Any]:
        def load() -> Awaitable[dict[str, Any] | None]:
            now, recent = s.options.clock(), s.options.dashboard_recent
            return s.db(queries.dashboard, s.engine, event_id, now, recent)

        found = await s.read("organizer_dashboard", {"event_id": event_id}, load, caller)
        return _found(found, f"event {event_id}")

    @route("register")
    async def register(
        event_id: PathId, body: AttendeeRef, s: State, caller: Caller
    ) -> JSONResponse:
        return await s.write("register", queries.register, event_id, body, caller)

    @route("check_in")
    async def check_in(
        event_id: PathId, body: AttendeeRef, s: State, caller: Caller
    ) -> JSONResponse:
        return await s.write("check_in", queries.check_in, event_id, body, caller)

    @route("export_report")
    async def export_report(
        event_id: PathId, s: State, caller: Caller, body: ExportRequest | None = None
    ) -> JSONResponse:
        s.authorize("export_report", caller, {"event_id": event_id})
        request = body or ExportRequest()
        if not s.exports.allow(event_id):
            limit = s.exports.limit
            raise HTTPException(
                429, f"at most {limit} exports per event a minute", headers={"Retry-After": "60"}
            )
        _found(await s.db(queries.event_detail, s.engine, event_id), f"event {event_id}")
        data = job_data(request.job_type, event_id, table=request.table)
        submitted = await s.jobs.submit(request.job_type, data)
        return JSONResponse({"event_id": event_id, **submitted}, status_code=202)

    return app


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _load_active(s: ServiceState) -> list[dict[str, Any]]:
    now, opts = s.options.clock(), s.options
    return await s.db(queries.active_events, s.engine, now, opts.active_window, opts.active_limit)
