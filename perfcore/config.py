"""One configuration schema for every tunable, read by production and simulation alike.

Every number the simulation tunes (TTLs, thresholds, concurrency) lives here, so
the tuner's ``recommended.yaml`` loads unchanged into the real components.
Each layer owns one section: ``cache``, ``queues``, ``scaling``, ``dbopt``,
``loadtest``, ``service``.

Unknown keys are errors (a typo in a TTL must not silently fall back to a
default), and every error names its field::

    >>> load_config_text("cache:\\n  default_ttl_s: -1\\n")
    Traceback (most recent call last):
    ...
    perfcore.config.ConfigError: cache.default_ttl_s: Input should be greater than 0

``--set path=value`` overrides use the same dotted paths (see
:func:`apply_overrides`).
"""

from __future__ import annotations

import copy
import json
import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from perfcore.platform import PLATFORM


class ConfigError(ValueError):
    """A configuration problem, phrased as ``field.path: problem`` on one line."""


class Section(BaseModel):
    """Base for every config model: strict about unknown keys, immutable, finite numbers.

    ``inf``, ``nan`` and ``1e400`` (which YAML and JSON read as ``inf``) are
    rejected in every float field of every section, nested or not.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Upper bounds on values that drive memory or time, so that a typo cannot ask
# for a run that never ends (docs/bad-input.md lists them).
MAX_REPLICAS = 10_000  # far above any Deployment the platform runs
MAX_CONCURRENCY = 10_000  # per queue, per worker process
MAX_INTERVAL_S = 86_400.0  # timeouts, periods, TTLs of locks: at most a day
MAX_TTL_S = 30 * 86_400.0  # cache entries: at most 30 days
MAX_INPUT_BYTES = 16 * 1024 * 1024  # a config, scenario or --state file
# No glob characters (* ? [ ]) in a cache prefix: SCAN and UNLINK match "prefix:*".
KEY_PREFIX_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"


# --------------------------------------------------------------------- cache


class NamespaceConfig(Section):
    """Per-namespace cache behaviour; a namespace groups keys of one kind of data."""

    ttl_s: float = Field(300.0, gt=0, le=MAX_TTL_S, description="L2 (Redis) time to live")
    use_memory: bool = Field(True, description="also keep values in the in-process L1")
    negative_ttl_s: float | None = Field(
        None,
        gt=0,
        le=MAX_TTL_S,
        description="cache None results for this long; None disables negative caching",
    )


class L1Config(Section):
    """The in-process tier: small, bounded, never older than its L2 entry."""

    max_entries: int = Field(10_000, gt=0, le=100_000_000)
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, le=2**40, description="approximate size bound")
    max_ttl_s: float = Field(
        60.0, gt=0, le=MAX_TTL_S, description="an L1 entry lives at most this long"
    )


class LockConfig(Section):
    """Cross-process stampede lock (SET NX PX with a token)."""

    enabled: bool = False
    ttl_ms: int = Field(
        10_000, gt=0, le=MAX_INTERVAL_S * 1000, description="lock expiry, longer than a slow fetch"
    )
    wait_timeout_ms: int = Field(
        5_000, gt=0, le=MAX_INTERVAL_S * 1000, description="how long waiters poll before fetching"
    )
    poll_interval_ms: int = Field(20, gt=0, le=60_000)


class BreakerConfig(Section):
    """Circuit breaker in front of Redis: stop hammering a server that is down."""

    failure_threshold: int = Field(5, gt=0, description="consecutive errors that open it")
    reset_after_s: float = Field(
        5.0, gt=0, le=MAX_INTERVAL_S, description="open time before a trial call"
    )
    log_interval_s: float = Field(
        30.0, gt=0, le=MAX_INTERVAL_S, description="at most one degraded-mode log per interval"
    )


class WarmLoaderConfig(Section):
    ttl_s: float = Field(gt=0, le=MAX_TTL_S)
    namespace: str = "warm"


def _default_warm_loaders() -> dict[str, WarmLoaderConfig]:
    # The seed's loaders and TTLs; user_permissions had none in the seed.
    return {
        "active_events": WarmLoaderConfig(ttl_s=300),
        "popular_event_types": WarmLoaderConfig(ttl_s=3600),
        "system_configuration": WarmLoaderConfig(ttl_s=1800),
        "user_permissions": WarmLoaderConfig(ttl_s=600),
    }


@lru_cache(maxsize=16)
def _default_namespace(ttl_s: float) -> NamespaceConfig:
    # Memoised: CacheConfig.namespace() sits on the cache's per-request path,
    # and models are frozen, so sharing one instance is safe.
    return NamespaceConfig(ttl_s=ttl_s)


def _default_namespaces() -> dict[str, NamespaceConfig]:
    # Event pages, profiles and session pages use default_ttl_s; the listing and
    # the dashboards change too often for that (and a dashboard polled by one
    # organizer gains nothing from a per-process copy).
    return {
        "active_events": NamespaceConfig(ttl_s=30.0),
        "dashboard": NamespaceConfig(ttl_s=10.0, use_memory=False),
    }


class CacheConfig(Section):
    """Two-tier cache: L1 in process, L2 on Redis or Redis Cluster."""

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="redis://, rediss:// or redis+cluster:// (Redis Cluster, any node)",
    )
    key_prefix: str = Field("pc", pattern=KEY_PREFIX_PATTERN)
    default_ttl_s: float = Field(300.0, gt=0, le=MAX_TTL_S)
    namespaces: dict[str, NamespaceConfig] = Field(
        default_factory=_default_namespaces,
        description="per-namespace settings; unlisted namespaces use default_ttl_s",
    )
    l1: L1Config = Field(default_factory=L1Config)
    xfetch_beta: float = Field(
        1.0, ge=0, description="0 disables early refresh; >1 refreshes earlier"
    )
    lock: LockConfig = Field(default_factory=LockConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    socket_timeout_s: float = Field(0.25, gt=0, le=3600)
    max_connections: int = Field(
        64,
        gt=0,
        le=MAX_CONCURRENCY,
        description="connection pool size per Redis node; callers queue beyond it",
    )
    max_value_bytes: int = Field(1024 * 1024, gt=0, le=512 * 1024 * 1024)  # Redis's own limit
    max_key_bytes: int = Field(
        512, gt=0, le=512 * 1024 * 1024, description="longest accepted cache key (UTF-8 bytes)"
    )
    scan_batch: int = Field(500, gt=0, le=100_000, description="SCAN COUNT and UNLINK batch size")
    oversize: Literal["error", "compress"] = "compress"
    invalidation_channel: str = "perfcore:cache:invalidate"
    warm_concurrency: int = Field(4, gt=0, le=MAX_CONCURRENCY)
    warm_loaders: dict[str, WarmLoaderConfig] = Field(default_factory=_default_warm_loaders)

    def namespace(self, name: str) -> NamespaceConfig:
        """The namespace's settings, or defaults built from ``default_ttl_s``."""
        found = self.namespaces.get(name)
        return found if found is not None else _default_namespace(self.default_ttl_s)


# -------------------------------------------------------------------- queues


class QueueSpec(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    concurrency: int = Field(gt=0, le=MAX_CONCURRENCY)


def _default_queues() -> list[QueueSpec]:
    return [
        QueueSpec(name="critical", concurrency=20),
        QueueSpec(name="high", concurrency=15),
        QueueSpec(name="normal", concurrency=10),
        QueueSpec(name="low", concurrency=5),
    ]


class JobDefaults(Section):
    attempts: int = Field(3, gt=0, le=1000)
    backoff_delay_ms: int = Field(
        1000, ge=0, le=MAX_INTERVAL_S * 1000, description="exponential: delay * 2**(attempt-1)"
    )
    remove_on_complete: int = Field(100, ge=0)
    remove_on_fail: int = Field(50, ge=0)


# BullMQ priorities run LOWER numbers first (1 = most urgent) and treat 0 as
# "no priority", which would jump ahead of every prioritised job; the seed's
# 10/5/3/1 (higher = more urgent) are translated, never copied.
PRIORITY_DEFAULT = 3  # the route of a job type the platform does not list
MAX_PRIORITY = 2_097_152  # BullMQ's upper bound (2**21)


class RouteSpec(Section):
    """Where one job type goes: a queue and a BullMQ priority (1 runs first)."""

    queue: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    priority: int = Field(ge=1, le=MAX_PRIORITY)


def _default_routes() -> dict[str, RouteSpec]:
    # Each job type's route as the platform description gives it; production
    # and the simulation start from the same table, and both may override it.
    return {
        name: RouteSpec(queue=job.route.queue, priority=job.route.priority)
        for name, job in PLATFORM.job_types.items()
    }


class QueuesConfig(Section):
    """BullMQ priority queues; routing of job types lives in perfcore.queues."""

    redis_url: str = "redis://127.0.0.1:6380/0"
    prefix: str = Field(
        "bull",
        pattern=r"^[A-Za-z0-9_{}:-]{1,64}$",
        description="key prefix; use a hash tag such as {perfcore} on Redis Cluster",
    )
    queues: list[QueueSpec] = Field(default_factory=_default_queues)
    job_defaults: JobDefaults = Field(default_factory=JobDefaults)
    routes: dict[str, RouteSpec] = Field(
        default_factory=_default_routes, description="job type -> queue and BullMQ priority"
    )
    default_route: RouteSpec = Field(
        default_factory=lambda: RouteSpec(queue="normal", priority=PRIORITY_DEFAULT),
        description="route of every job type not listed in routes",
    )
    database_url: str = Field(
        "sqlite:///perfcore-queues.db", description="SQLAlchemy URL of the reference database"
    )
    export_dir: str = Field("reports/exports", description="where data_export writes CSV files")
    lock_duration_ms: int = Field(
        30_000, gt=0, le=MAX_INTERVAL_S * 1000, description="job lock; renewed while it runs"
    )
    stalled_interval_ms: int = Field(
        30_000, gt=0, le=MAX_INTERVAL_S * 1000, description="how often stalled jobs are checked"
    )
    # bullmq's Python worker blocks on its queue's marker for drainDelay seconds
    # when idle; at its default (5 s) a job added near the end of a block was
    # measured waiting up to 2-8 s. A 1 s block costs one round trip a second.
    drain_delay_s: float = Field(1.0, gt=0, le=10, description="idle worker's blocking wait")
    max_stalled_count: int = Field(1, ge=0, le=1000, description="stalls before a job fails")
    require_persistence: bool = Field(
        True,
        description="workers refuse a queue Redis without appendonly (false: a loud warning)",
    )
    # bullmq waits runRetryDelay (its default: 15 s) after a connection error
    # before fetching again; 1 s brings workers back soon after a Redis restart.
    reconnect_delay_ms: int = Field(
        1000, gt=0, le=60_000, description="wait after a lost queue Redis connection"
    )
    stall_after_s: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="jobs wait but none finished for this long: the watchdog reports a stall",
    )
    shutdown_timeout_s: float = Field(
        30.0, gt=0, le=MAX_INTERVAL_S, description="SIGTERM grace for in-flight jobs"
    )
    handlers: list[str] = Field(
        default_factory=list,
        description="extra 'module:attribute' mappings of job type -> handler, loaded by workers",
    )

    @model_validator(mode="after")
    def _routes_name_known_queues(self) -> QueuesConfig:
        names = [spec.name for spec in self.queues]
        if len(set(names)) != len(names):
            raise ValueError(f"queue names must be unique, got {names}")
        for job_type, route in {**self.routes, "(default)": self.default_route}.items():
            if route.queue not in names:
                raise ValueError(f"route {job_type}: unknown queue {route.queue!r}")
        return self


# ------------------------------------------------------------------- scaling


class ScalingConfig(Section):
    """Autoscaler bounds and targets; the policies live in perfcore.scaling.policies."""

    policy: Literal["seed", "target-tracking", "queue-backlog"] = "target-tracking"
    min_replicas: int = Field(2, gt=0, le=MAX_REPLICAS)
    max_replicas: int = Field(50, gt=0, le=MAX_REPLICAS)
    interval_s: float = Field(15.0, gt=0, le=MAX_INTERVAL_S)
    # seed threshold rule
    scale_up_cpu: float = Field(0.70, gt=0, le=1)
    scale_up_memory: float = Field(0.80, gt=0, le=1)
    scale_down_cpu: float = Field(0.30, gt=0, le=1)
    scale_down_memory: float = Field(0.40, gt=0, le=1)
    scale_down_request_ratio: float = Field(0.5, gt=0, le=1000)
    cooldown_s: float = Field(60.0, ge=0, le=MAX_INTERVAL_S)
    baseline_request_rate: float | None = Field(
        None,
        gt=0,
        le=1e9,
        description="req/s of normal load; None drops the seed's request-rate clause",
    )
    # target tracking (HPA semantics); None disables a metric
    target_cpu: float | None = Field(0.60, gt=0, le=1, description="CPU utilisation per ready pod")
    target_memory: float | None = Field(None, gt=0, le=1)
    target_requests_per_replica: float | None = Field(
        None, gt=0, le=1e9, description="req/s per ready pod"
    )
    tolerance: float = Field(0.10, ge=0, lt=1)
    scale_down_stabilization_s: float = Field(300.0, ge=0, le=MAX_INTERVAL_S)
    scale_up_stabilization_s: float = Field(0.0, ge=0, le=MAX_INTERVAL_S)
    # HPA default behavior: up max(+4 pods, +100%) per 15 s; down -100% per 15 s
    scale_up_pods: int = Field(4, ge=0, le=MAX_REPLICAS)
    scale_up_percent: float = Field(100.0, ge=0, le=100_000)
    scale_up_period_s: float = Field(15.0, gt=0, le=MAX_INTERVAL_S)
    scale_down_percent: float = Field(100.0, ge=0, le=100)
    scale_down_period_s: float = Field(15.0, gt=0, le=MAX_INTERVAL_S)
    # queue backlog (KEDA style)
    backlog_per_replica: float = Field(100.0, gt=0, le=1e12)
    backlog_queues: list[str] | None = Field(
        None, description="BullMQ queues whose waiting jobs count; None = every queue in queues"
    )
    # the loop's adapters
    namespace: str = Field("default", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    deployment: str | None = Field(None, pattern=r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")
    prometheus_url: str = "http://127.0.0.1:9090"
    prometheus_queries: dict[str, str] = Field(
        default_factory=dict,
        description="PromQL per metric (cpu, memory, request_rate, queue_backlog); "
        "{namespace} and {deployment} are substituted",
    )
    worker_command: list[str] = Field(
        default_factory=lambda: ["perfcore", "worker", "--queues", "critical,high,normal,low"],
        min_length=1,
        description="one replica of the local-processes actuator",
    )
    worker_stop_timeout_s: float = Field(
        30.0, gt=0, le=MAX_INTERVAL_S, description="SIGTERM grace before SIGKILL"
    )

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ScalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


# --------------------------------------------------------------------- dbopt


class DbOptConfig(Section):
    """Index advisor thresholds."""

    since_hours: float = Field(24.0, gt=0, le=87_600, description="at most ten years")
    top: int = Field(10, gt=0, le=1000)
    min_savings_pct: float = Field(50.0, ge=0, le=100)
    max_index_columns: int = Field(4, gt=0, le=16)
    lock_wait_timeout_s: int = Field(5, gt=0, le=3600)
    partition_min_rows: int = Field(1_000_000, gt=0)
    partition_min_share: float = Field(
        0.5, gt=0, le=1, description="share of a table's slow time filtered by a date range"
    )
    max_log_rows: int = Field(
        100_000, gt=0, le=10_000_000, description="slow-log rows read per run"
    )
    measure_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="bound on each ANALYZE run that measures a query's latency",
    )
    min_query_time_s: float = Field(
        0.0, ge=0, description="ignore fingerprints whose mean time is below this"
    )
    prune_cost_factor: float = Field(
        4.0,
        ge=1,
        description="drop a verified index when, without it, every statement it serves"
        " stays within this factor of its planned cost (1 disables pruning)",
    )
    min_table_rows: int = Field(
        1000, ge=0, description="propose no index on tables with fewer rows (a scan is cheaper)"
    )
    statement_timeout_s: float = Field(
        5.0, gt=0, description="bound on each EXPLAIN of a logged statement"
    )
    measure_runs: int = Field(
        3, gt=0, description="timed runs per statement when measuring; the median counts"
    )
    max_slowdown: float = Field(
        1.25,
        gt=1,
        description="drop an index that makes a statement it serves this many times slower",
    )
    min_measured_gain_pct: float = Field(
        0.5,
        ge=0,
        le=100,
        description="when measuring, drop an index that saves less than this share of the"
        " workload's measured time with the chosen indexes, so its slot goes to the next"
        " candidate",
    )


# ------------------------------------------------------------------- service


class ServiceConfig(Section):
    """The reference API: its deployment (processes, pool) and access control (never hard-coded)."""

    workers: int = Field(1, gt=0, le=64, description="server processes (uvicorn workers)")
    db_pool_size: int = Field(5, gt=0, description="SQLAlchemy pool_size per process")
    db_max_overflow: int = Field(
        10, ge=0, description="connections opened beyond the pool under load, closed after use"
    )
    gil_switch_ms: float = Field(
        5.0,
        gt=0,
        le=100,
        description="sys.setswitchinterval of each process: how long a database thread waits"
        " for the busy event loop to hand over the GIL (CPython's default: 5 ms)",
    )

    auth_secret: SecretStr | None = Field(
        None, description="HMAC key of the bearer tokens; None: read (or create) auth_secret_file"
    )
    auth_secret_file: str = Field(
        ".perfcore/service.secret", description="a random key, created 0600 when missing"
    )
    metrics: Literal["open", "operator", "off"] = Field(
        "operator", description="/metrics: open, an operator token, or not served"
    )
    docs: bool = Field(False, description="serve /docs and /openapi.json")
    exports_per_minute: int = Field(
        6, gt=0, le=10_000, description="export requests accepted per event and minute"
    )


# ------------------------------------------------------------------ loadtest


class IdPool(Section):
    """Ids a load test fills a path parameter with: ``values``, else ``low..high``."""

    low: int = Field(1, ge=0)
    high: int | None = Field(None, ge=0, description="None: the service's seed size")
    values: list[int] = Field(default_factory=list, description="explicit ids (win over a range)")

    @model_validator(mode="after")
    def _ordered(self) -> IdPool:
        if self.high is not None and self.high < self.low:
            raise ValueError("high must not be below low")
        return self


class LoadTestConfig(Section):
    """Where load may go and what it sends: the staging allow-list, paths, ids, bounds."""

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="hosts (names or addresses) besides loopback a load test may target",
    )
    max_run_time_s: int = Field(600, gt=0, description="a load test runs at most this long")
    paths: dict[str, str] = Field(
        default_factory=dict,
        description="request class -> path template on the target (default: the platform's)",
    )
    id_pools: dict[str, IdPool] = Field(
        default_factory=dict, description="path parameter (event_id, ...) -> ids to draw from"
    )
    user_rate_per_s: float = Field(
        2.0, gt=0, description="open-loop: mean requests per second each Locust user starts"
    )

    @model_validator(mode="after")
    def _known_classes(self) -> LoadTestConfig:
        for name, path in self.paths.items():
            if name not in PLATFORM.request_classes:
                raise ValueError(f"paths: unknown request class {name!r}")
            wanted = set(PLATFORM.request_classes[name].endpoint.params)
            if not path.startswith("/") or not wanted <= set(_template_params(path)):
                raise ValueError(f"paths.{name}: must start with / and use {sorted(wanted)}")
        return self


def _template_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


# ---------------------------------------------------------------------- root


class PerfcoreConfig(Section):
    """The whole configuration: one section per layer."""

    cache: CacheConfig = Field(default_factory=CacheConfig)
    queues: QueuesConfig = Field(default_factory=QueuesConfig)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    dbopt: DbOptConfig = Field(default_factory=DbOptConfig)
    loadtest: LoadTestConfig = Field(default_factory=LoadTestConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)


M = TypeVar("M", bound=BaseModel)


def format_validation_error(error: ValidationError) -> str:
    """The first problem as ``dotted.field: message`` (one line, no traceback)."""
    first = error.errors()[0]
    # A key from the input may hold a newline or a control character: quote it.
    where = ".".join(
        str(part) if isinstance(part, int) or part.isprintable() else repr(part)
        for part in first["loc"]
    )
    message = " ".join(str(first["msg"]).split())
    return f"{where or '(root)'}: {message}"


def validate_model(model: type[M], data: Any) -> M:
    """Validate ``data`` into ``model``, raising :class:`ConfigError` on the first problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"(root): expected a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML, turning syntax errors into one-line :class:`ConfigError`."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None


def parse_json(text: str, source: str) -> Any:
    """Parse strict JSON: no ``NaN``/``Infinity`` tokens, bounded nesting, one-line errors.

    >>> parse_json('{"now": NaN}', "--state")
    Traceback (most recent call last):
    ...
    perfcore.config.ConfigError: --state: invalid JSON: NaN is not a JSON number
    """

    def reject(token: str) -> Any:
        raise ConfigError(f"{source}: invalid JSON: {token} is not a JSON number")

    try:
        return json.loads(text, parse_constant=reject)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid JSON: nested too deeply") from None


def read_text_file(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``; else a one-line ConfigError.

    The file is checked *before* it is opened: opening a FIFO would block until
    a writer appears, and a device such as /dev/zero never ends.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ConfigError(f"{path}: cannot read: {kind}")
    if info.st_size > max_bytes:
        raise ConfigError(f"{path}: too large ({info.st_size} bytes, at most {max_bytes})")
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the check, open
        # still returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise ConfigError(f"{path}: too large (more than {max_bytes} bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def read_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file; a missing, unreadable or binary file is a :class:`ConfigError`."""
    return parse_yaml(read_text_file(path), str(path))


def apply_overrides(
    data: dict[str, Any], overrides: list[str], defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return a copy of ``data`` with ``dotted.path=value`` overrides applied.

    Values are parsed as YAML, so ``cache.default_ttl_s=60`` sets a number and
    ``scaling.policy=seed`` a string. Where a section on the path is missing
    from ``data``, it starts from its value in ``defaults``, so that
    ``queues.routes.user_report=...`` changes one route and keeps the others.
    In a list, a path step picks an item by index or by its ``name``
    (``queues.queues.normal.concurrency=30``).

    >>> apply_overrides({"a": {"b": 1}}, ["a.b=2", "a.c=[1, 2]"])
    {'a': {'b': 2, 'c': [1, 2]}}
    >>> apply_overrides({}, ["m.y=2"], defaults={"m": {"x": 1}})
    {'m': {'x': 1, 'y': 2}}
    >>> apply_overrides({"q": [{"name": "a", "n": 1}]}, ["q.a.n=5"])
    {'q': [{'name': 'a', 'n': 5}]}
    """
    result = copy.deepcopy(data)
    for item in overrides:
        path, sep, raw = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError(f"--set {item}: expected dotted.path=value")
        keys = path.strip().split(".")
        node: dict[str, Any] | list[Any] = result
        default: Any = defaults or {}
        for key in keys[:-1]:
            default = _step(default, key)
            if isinstance(node, dict) and key not in node:
                node[key] = copy.deepcopy(default) if isinstance(default, dict | list) else {}
            child = (
                _step(node, key) if isinstance(node, dict) else node[_list_index(node, key, path)]
            )
            if not isinstance(child, dict | list):
                raise ConfigError(f"{path}: {key} is not a section")
            node = child
        value = parse_yaml(raw, f"--set {path}")
        if isinstance(node, dict):
            node[keys[-1]] = value
        else:
            node[_list_index(node, keys[-1], path)] = value
    return result


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (list items by index or name, as in overrides).

    >>> value_at({"q": [{"name": "a", "n": 1}], "t": None}, "q.a.n"), value_at({"t": None}, "t")
    (1, None)
    """
    node = data
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and (index := _list_index(node, key, None)) is not None:
            node = node[index]
        else:
            raise ConfigError(f"{path}: unknown field")
    return node


def _step(node: Any, key: str) -> Any:
    """``node[key]`` for a mapping; for a list, the item at index ``key`` or named ``key``."""
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list):
        index = _list_index(node, key, None)
        return node[index] if index is not None else None
    return None


def _list_index(items: list[Any], key: str, path: str | None) -> Any:
    if key.isdigit() and int(key) < len(items):
        return int(key)
    for index, element in enumerate(items):
        if isinstance(element, dict) and element.get("name") == key:
            return index
    if path is None:
        return None
    raise ConfigError(f"{path}: no item {key!r} in the list")


def _default_config_data() -> dict[str, Any]:
    return PerfcoreConfig().model_dump(mode="json")


def load_config_text(text: str, overrides: list[str] | None = None) -> PerfcoreConfig:
    data = parse_yaml(text) or {}
    if not isinstance(data, dict):
        raise ConfigError("(root): expected a mapping")
    return validate_model(
        PerfcoreConfig, apply_overrides(data, overrides or [], _default_config_data())
    )


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> PerfcoreConfig:
    """Load ``path`` (or the defaults when None) with optional overrides."""
    data = read_yaml_file(path) if path is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return validate_model(
        PerfcoreConfig, apply_overrides(data, overrides or [], _default_config_data())
    )


def dump_yaml(model: BaseModel) -> str:
    """YAML for a model, in field order, suitable for ``load_config``."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False)
