"""The scenario: what load hits the platform, what it runs on, and how it is configured.

A scenario is one YAML document. Its platform configuration is *the* perfcore
configuration: the top-level ``cache``, ``queues``, ``scaling`` and ``dbopt``
sections are exactly :class:`perfcore.config.PerfcoreConfig`'s, so
``--set scaling.policy=seed`` or ``--set cache.default_ttl_s=60`` tune the same
numbers production reads, and a tuner's ``recommended.yaml`` drops in unchanged.
Next to them, ``workload`` describes the events and their attendees,
``infrastructure`` the replicas, cache round trips, database and job costs, and
``slo`` what counts as a bad minute.

Every field has a default, so an empty scenario is the built-in default day:
300 overlapping events, 200,000 attendees, 24 simulated hours, with morning and
evening check-in waves and ticket-sale flash crowds for the largest events
(docs/simulation.md says where each number comes from).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from perfcore.config import (
    MAX_REPLICAS,
    ConfigError,
    PerfcoreConfig,
    Section,
    apply_overrides,
    read_yaml_file,
    validate_model,
)
from perfcore.platform import PLATFORM, KeySpace

# The platform's request classes, in the description's order (their index is
# the class id in the model's arrays), and the key space each is about.
REQUEST_CLASSES: tuple[str, ...] = PLATFORM.class_names
KEY_SPACE: dict[str, KeySpace] = {name: rc.key for name, rc in PLATFORM.request_classes.items()}


def _with_defaults(defaults: Callable[[], dict[str, Any]]) -> BeforeValidator:
    """A mapping of per-name costs: entries given replace defaults, the rest keep theirs."""

    def merge(value: Any) -> Any:
        return {**defaults(), **value} if isinstance(value, dict) else value

    return BeforeValidator(merge)


def _known(kind: str, names: tuple[str, ...]) -> AfterValidator:
    """A name that must be one of the platform's ``names``."""

    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"unknown {kind} {value!r} (the platform has {', '.join(names)})")
        return value

    return AfterValidator(check)


# Upper bounds where a value drives the run's memory or time; docs/bad-input.md
# lists them, and simulation.budget bounds what they add up to.
MAX_HORIZON_S = 30 * 86_400.0  # a month of simulated time
MAX_HOURS = MAX_HORIZON_S / 3600
MAX_EVENTS = 100_000
MAX_ATTENDEES = 5_000_000  # 25 times the default day
MAX_PER_ATTENDEE = 1_000.0  # page views of one attendee of one event
MAX_RATE_PER_S = 100_000.0
MAX_KEYS = 10_000_000
MAX_MS = 3_600_000.0  # a request or query of an hour is already a failure
MAX_PRICE = 1e6  # per hour, in any currency: far above any real price

RequestClass = Annotated[str, _known("request class", REQUEST_CLASSES)]
JobTypeName = Annotated[str, _known("job type", tuple(PLATFORM.job_types))]
QueryName = Annotated[str, _known("query class", tuple(PLATFORM.queries))]


# ------------------------------------------------------------------ workload


class StartWave(Section):
    """A share of the events starting around one hour of the day (normal, ``sd_h``)."""

    centre_h: float = Field(ge=0, le=MAX_HOURS)
    sd_h: float = Field(gt=0, le=MAX_HOURS)
    share: float = Field(gt=0, le=1)


def _default_waves() -> list[StartWave]:
    # Conference days open in the morning, meet-ups and concerts in the evening.
    return [
        StartWave(centre_h=9.0, sd_h=0.75, share=0.45),
        StartWave(centre_h=18.5, sd_h=0.75, share=0.35),
    ]


class EventsSpec(Section):
    """The day's events: how many, how big, when."""

    count: int = Field(300, ge=0, le=MAX_EVENTS)
    total_attendees: int = Field(200_000, ge=0, le=MAX_ATTENDEES)
    size_sigma: float = Field(
        1.2, ge=0, le=10, description="lognormal sigma of event sizes (heavy tail)"
    )
    min_attendees: int = Field(10, ge=1, le=MAX_ATTENDEES)
    first_start_h: float = Field(
        1.0, ge=0, le=MAX_HOURS, description="earliest event start (hours)"
    )
    last_start_h: float = Field(21.0, ge=0, le=MAX_HOURS, description="latest event start (hours)")
    start_waves: list[StartWave] = Field(
        default_factory=_default_waves,
        description="shares of events starting in waves; the rest start uniformly",
    )
    duration_h: tuple[float, float] = Field((1.0, 4.0), description="uniform range of durations")
    registration_window_h: float = Field(
        6.0, gt=0, le=MAX_HOURS, description="registration ramp before start"
    )
    sessions_per_event: int = Field(8, ge=1, le=1_000)
    attendees_per_organizer: int = Field(400, ge=1, description="one dashboard per this many")

    @model_validator(mode="after")
    def _ordered(self) -> EventsSpec:
        if self.last_start_h < self.first_start_h:
            raise ValueError("last_start_h must not be before first_start_h")
        if not 0 < self.duration_h[0] <= self.duration_h[1] <= MAX_HOURS:
            raise ValueError(
                f"duration_h must be (low, high) with 0 < low <= high <= {MAX_HOURS:g}"
            )
        if sum(w.share for w in self.start_waves) > 1.0 + 1e-9:
            raise ValueError("start_waves: shares must sum to at most 1")
        return self


class TicketSalesSpec(Section):
    """Ticket sales of the largest events open at one moment: a registration flash crowd.

    A ``share`` of each such event's registrations arrive in an exponential
    burst (mean ``decay_min``) from the opening, ``open_before_start_h`` before
    the start (at the earliest at time 0); every buyer also reloads the event
    page ``detail_views_per_buyer`` times and the listing once during the burst.
    """

    largest_events: int = Field(
        5, ge=0, le=MAX_EVENTS, description="how many of the largest events"
    )
    share: float = Field(0.6, ge=0, le=1, description="their registrations in the burst")
    decay_min: float = Field(
        3.0, gt=0, le=MAX_HORIZON_S / 60, description="mean delay of a buyer after the opening"
    )
    open_before_start_h: float = Field(5.0, ge=0, le=MAX_HOURS)
    detail_views_per_buyer: float = Field(10.0, ge=0, le=MAX_PER_ATTENDEE)
    listing_views_per_buyer: float = Field(1.0, ge=0, le=MAX_PER_ATTENDEE)


class BehaviourSpec(Section):
    """What one attendee (or organizer) does around an event."""

    register_fraction: float = Field(1.0, ge=0, le=1)
    checkin_fraction: float = Field(0.9, ge=0, le=1)
    checkin_before_start_min: float = Field(
        10.0, ge=-MAX_HOURS * 60, le=MAX_HOURS * 60, description="check-in spike centre"
    )
    checkin_spread_min: float = Field(
        10.0, gt=0, le=MAX_HOURS * 60, description="check-in spike std deviation"
    )
    detail_views: float = Field(
        5.0, ge=0, le=MAX_PER_ATTENDEE, description="event page views per attendee"
    )
    profile_views: float = Field(
        3.0, ge=0, le=MAX_PER_ATTENDEE, description="attendee profiles viewed during the event"
    )
    session_views: float = Field(
        12.0, ge=0, le=MAX_PER_ATTENDEE, description="session pages viewed during the event"
    )
    listing_views: float = Field(
        3.0, ge=0, le=MAX_PER_ATTENDEE, description="active-events listing views"
    )
    dashboard_poll_s: float = Field(
        10.0, ge=1, le=86_400, description="organizer dashboard polling period"
    )
    dashboard_lead_h: float = Field(
        1.0, ge=0, le=MAX_HOURS, description="dashboards open this long before start"
    )
    exports_per_event: float = Field(
        4.0, ge=0, le=MAX_PER_ATTENDEE, description="export/report requests after the end"
    )


class StreamSpec(Section):
    """A stationary Poisson stream of one request class (flash crowds, tests).

    The rate ramps linearly from 0 over ``ramp_s`` and stays until ``end_s``;
    keys are drawn uniformly from the first ``keys`` keys of the class's key space.
    """

    request_class: RequestClass
    rate_per_s: float = Field(gt=0, le=MAX_RATE_PER_S)
    start_s: float = Field(0.0, ge=0, le=MAX_HORIZON_S)
    end_s: float | None = Field(None, gt=0, le=MAX_HORIZON_S, description="None: until the horizon")
    ramp_s: float = Field(0.0, ge=0, le=MAX_HORIZON_S)
    keys: int = Field(1, ge=1, le=MAX_KEYS)


class TimedJobSpec(Section):
    """Jobs created by time: Poisson at ``rate_per_s`` or one every ``every_s``."""

    job_type: JobTypeName
    rate_per_s: float | None = Field(None, gt=0, le=1_000)
    every_s: float | None = Field(None, ge=1, le=MAX_HORIZON_S)
    start_s: float = Field(0.0, ge=0, le=MAX_HORIZON_S)

    @model_validator(mode="after")
    def _one_clock(self) -> TimedJobSpec:
        if (self.rate_per_s is None) == (self.every_s is None):
            raise ValueError("give exactly one of rate_per_s and every_s")
        return self


def _default_timed_jobs() -> list[TimedJobSpec]:
    return [
        TimedJobSpec(job_type="data_backup", every_s=6 * 3600),
        TimedJobSpec(job_type="analytics_batch", every_s=3600),
        TimedJobSpec(job_type="emergency_alert", rate_per_s=1 / 7200),
    ]


class EventJobsSpec(Section):
    """Jobs each event creates over its life."""

    reminder_lead_h: float = Field(
        2.0, ge=0, le=MAX_HOURS, description="reminder batch before the start"
    )
    attendees_per_reminder_job: int = Field(100, ge=1)
    analytics_every_s: float = Field(
        300.0, ge=1, le=MAX_HORIZON_S, description="analytics_processing while live"
    )
    reports_at_end: int = Field(1, ge=0, le=1_000, description="report_generation jobs at the end")


class WorkloadSpec(Section):
    events: EventsSpec = Field(default_factory=EventsSpec)
    behaviour: BehaviourSpec = Field(default_factory=BehaviourSpec)
    ticket_sales: TicketSalesSpec = Field(default_factory=TicketSalesSpec)
    traffic_windows: list[tuple[float, float]] | None = Field(
        None, description="only requests inside these [start, end) seconds (tuner screening)"
    )
    streams: list[StreamSpec] = Field(default_factory=list)
    timed_jobs: list[TimedJobSpec] = Field(default_factory=_default_timed_jobs)
    event_jobs: EventJobsSpec = Field(default_factory=EventJobsSpec)


# ------------------------------------------------------------ infrastructure

ServiceDist = Literal["exponential", "deterministic", "lognormal"]


class ClassSpec(Section):
    """Cost of one request class; what it does is the platform's (perfcore.platform)."""

    cpu_ms: float = Field(gt=0, le=MAX_MS, description="mean CPU time of one request")
    miss_cpu_ms: float = Field(
        0.0,
        ge=0,
        le=MAX_MS,
        description="more CPU a cached read spends when it misses (the fetched rows made into"
        " the response and the cached value), on the same core; 0: a miss costs its query only",
    )


def _default_classes() -> dict[str, ClassSpec]:
    cpu_ms = {
        "list_active_events": 15.0,
        "event_detail": 10.0,
        "attendee_profile": 10.0,
        "session_page": 8.0,
        "register": 30.0,
        "check_in": 20.0,
        "organizer_dashboard": 40.0,
        "export_report": 15.0,
    }
    return {name: ClassSpec(cpu_ms=ms) for name, ms in cpu_ms.items()}


class QuerySpec(Section):
    """One query class's mean service time on a database connection."""

    with_index_ms: float = Field(gt=0, le=MAX_MS)
    without_index_ms: float = Field(gt=0, le=MAX_MS)


def _default_queries() -> dict[str, QuerySpec]:
    q = QuerySpec
    return {
        "list_active_events": q(with_index_ms=4.0, without_index_ms=40.0),
        "event_by_id": q(with_index_ms=1.0, without_index_ms=25.0),
        "attendee_by_id": q(with_index_ms=1.0, without_index_ms=60.0),
        "session_by_id": q(with_index_ms=1.0, without_index_ms=15.0),
        "insert_registration": q(with_index_ms=3.0, without_index_ms=5.0),
        "insert_checkin": q(with_index_ms=2.0, without_index_ms=50.0),
        "dashboard_stats": q(with_index_ms=25.0, without_index_ms=400.0),
    }


class DatabaseSpec(Section):
    connections: int = Field(40, gt=0, le=10_000, description="connection pool size (servers)")
    core_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of a query's time that is CPU on the calling replica's core (driver"
        " work under the GIL; a database pinned to the same core): it waits for the core, holding"
        " its connection. 0: queries run beside the core",
    )
    sharing_window_s: float = Field(
        0.05,
        ge=0,
        le=60,
        description="the CPU share of a query on the core takes 1 / (1 - rho) as long, rho the"
        " core's utilisation over about this many seconds (processor sharing with the core's"
        " other work). 0: not slowed",
    )
    indexed: bool = Field(True, description="service times with (True) or without indexes")
    service: ServiceDist = Field("exponential", description="query time distribution")
    service_cv: float = Field(
        1.0, gt=0, le=100, description="coefficient of variation for lognormal"
    )
    wake_factor: float = Field(
        0.0,
        ge=0,
        le=100,
        description="api.wake_factor for the query times (a database on the server's idle"
        " core wakes up too). 0: the same query times at every load",
    )
    queries: Annotated[dict[QueryName, QuerySpec], _with_defaults(_default_queries)] = Field(
        default_factory=_default_queries
    )


class ApiSpec(Section):
    slots_per_replica: int = Field(
        4, gt=0, le=10_000, description="concurrent requests per replica (workers)"
    )
    cpus_per_replica: int = Field(
        1, gt=0, le=1_024, description="CPUs of a pod: CPU bursts queue for them"
    )
    startup_s: float = Field(45.0, ge=0, le=86_400, description="pod start-up delay until ready")
    initial_replicas: int | None = Field(
        None, gt=0, le=MAX_REPLICAS, description="None: scaling.min_replicas"
    )
    service: ServiceDist = Field("exponential", description="CPU time distribution")
    service_cv: float = Field(
        1.0, gt=0, le=100, description="coefficient of variation for lognormal"
    )
    memory_base: float = Field(0.30, ge=0, lt=1, description="memory fraction of an idle pod")
    memory_per_busy_slot: float = Field(
        0.05, ge=0, le=1, description="extra fraction per busy slot"
    )
    cost_per_pod_hour: float = Field(0.10, ge=0, le=MAX_PRICE)
    auth_ms: float = Field(
        0.05, ge=0, le=1000, description="CPU of the token check, on every class that needs a token"
    )
    shared_core_ms: float = Field(
        0.0,
        ge=0,
        le=MAX_MS,
        description="CPU per request that other work on the replica's cores does for it"
        " (a database, Redis or job worker pinned with the server; the server's own protocol"
        " and driver work outside the handler): it holds a core after the request's CPU burst,"
        " delaying later requests, not this one. 0: the cores run only the handlers",
    )
    handoff_ms: float = Field(
        0.0,
        ge=0,
        le=MAX_MS,
        description="time per request the replica's core is held without computing (the GIL"
        " handed between the event loop and the query threads, switches between processes"
        " pinned to one core): like shared_core_ms it delays the requests behind, but it is"
        " not CPU. 'perfcore calibrate --capacity' fits it. 0: none",
    )
    job_core_ms: float = Field(
        0.0,
        ge=0,
        le=MAX_MS,
        description="CPU one job takes on the replica's core when the job worker is pinned with"
        " the server: one burst from when the request that enqueued it ends, run before the"
        " requests waiting for the core (a process that slept gets the core first when it"
        " wakes). 'perfcore calibrate' fits it from a pinned run. 0: the worker runs elsewhere",
    )
    background_core: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of each replica core taken by work that does not follow the load"
        " (a job worker polling, a database's housekeeping, pinned with the server): CPU"
        " bursts and shared work take 1 / (1 - share) as long. 0: the core is the server's",
    )
    wake_factor: float = Field(
        0.0,
        ge=0,
        le=100,
        description="a core that was idle pays for waking up (cold caches, sleep states): a"
        " request arriving at a core idle for g seconds takes 1 + wake_factor * (1 -"
        " exp(-g / wake_gap_s)) times its CPU, miss CPU and shared work. 'perfcore calibrate"
        " --load-run' fits it. 0: the same cost at every load",
    )
    wake_gap_s: float = Field(
        0.04,
        gt=0,
        le=60,
        description="how long a core must be idle for waking up to cost 63 % of wake_factor",
    )


class CacheTierSpec(Section):
    enabled: bool = True
    l1_lookup_ms: float = Field(0.02, ge=0, le=MAX_MS)
    l2_rtt_ms: float = Field(0.6, ge=0, le=MAX_MS, description="Redis round trip on an L1 miss")


class JobTypeSpec(Section):
    service_s: float = Field(gt=0, le=7 * 86_400, description="mean processing time (exponential)")
    failure_p: float = Field(0.0, ge=0, lt=1, description="chance one attempt fails")


def _default_job_types() -> dict[str, JobTypeSpec]:
    j = JobTypeSpec
    return {
        "notification_sending": j(service_s=0.25, failure_p=0.02),
        "analytics_processing": j(service_s=2.0, failure_p=0.01),
        "report_generation": j(service_s=20.0, failure_p=0.02),
        "data_export": j(service_s=30.0, failure_p=0.02),
        "real_time_notification": j(service_s=0.1, failure_p=0.01),
        "emergency_alert": j(service_s=0.2, failure_p=0.0),
        "user_report": j(service_s=5.0, failure_p=0.01),
        "dashboard_update": j(service_s=0.3, failure_p=0.005),
        "data_backup": j(service_s=600.0, failure_p=0.05),
        "analytics_batch": j(service_s=120.0, failure_p=0.02),
    }


class CostSpec(Section):
    """Prices beyond the API pods (``api.cost_per_pod_hour``); 0 leaves a part unpriced."""

    worker_slot_per_hour: float = Field(
        0.005,
        ge=0,
        le=MAX_PRICE,
        description="one job-worker slot (queue concurrency 1) for an hour",
    )
    redis_per_hour: float = Field(0.0, ge=0, le=MAX_PRICE)
    db_per_hour: float = Field(0.0, ge=0, le=MAX_PRICE)


class InfrastructureSpec(Section):
    costs: CostSpec = Field(default_factory=CostSpec)
    api: ApiSpec = Field(default_factory=ApiSpec)
    request_classes: Annotated[dict[RequestClass, ClassSpec], _with_defaults(_default_classes)] = (
        Field(default_factory=_default_classes)
    )
    cache: CacheTierSpec = Field(default_factory=CacheTierSpec)
    db: DatabaseSpec = Field(default_factory=DatabaseSpec)
    job_types: Annotated[dict[JobTypeName, JobTypeSpec], _with_defaults(_default_job_types)] = (
        Field(default_factory=_default_job_types)
    )


# ----------------------------------------------------------------- scenario


def _default_queue_targets() -> dict[str, float]:
    # Alerts and live notifications within seconds, dashboards' updates within a
    # minute, reports and notifications within minutes, batch work within the hour.
    return {"critical": 5.0, "high": 60.0, "normal": 300.0, "low": 3600.0}


class SloSpec(Section):
    p95_ms: float = Field(
        250.0, gt=0, le=MAX_MS, description="a minute whose p95 exceeds this violates"
    )
    max_violation_minutes: float = Field(
        0.0,
        ge=0,
        le=MAX_HORIZON_S / 60,
        description="the tuner's constraint: at most this many violating minutes",
    )
    queue_wait_p95_s: dict[str, Annotated[float, Field(gt=0, le=MAX_HORIZON_S)]] = Field(
        default_factory=_default_queue_targets,
        description="per queue: the job-wait p95 the tuner must keep (queues not listed: none)",
    )


class Scenario(PerfcoreConfig):
    """A whole simulation input: the perfcore configuration, plus workload, infrastructure, SLO.

    A scenario *is* a :class:`~perfcore.config.PerfcoreConfig` with more
    fields: its ``cache``, ``queues``, ``scaling`` and ``dbopt`` sections are
    inherited, so their defaults are exactly ``perfcore config defaults``.
    """

    seed: int = Field(1, ge=0, le=2**63 - 1)
    horizon_s: float = Field(86_400.0, gt=0, le=MAX_HORIZON_S, description="at most 30 days")
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    infrastructure: InfrastructureSpec = Field(default_factory=InfrastructureSpec)
    slo: SloSpec = Field(default_factory=SloSpec)

    @model_validator(mode="after")
    def _complete(self) -> Scenario:
        infra = self.infrastructure
        for name, rc in PLATFORM.request_classes.items():
            if name not in infra.request_classes:
                raise ValueError(f"infrastructure.request_classes: no cost for {name}")
            if rc.query is not None and rc.query not in infra.db.queries:
                raise ValueError(f"infrastructure.db.queries: no cost for {rc.query} ({name})")
        # Targets a scenario gives must name its queues; the built-in ones apply
        # to whichever of the default queues the scenario keeps.
        if "queue_wait_p95_s" in self.slo.model_fields_set:
            queues = {q.name for q in self.queues.queues}
            for name in self.slo.queue_wait_p95_s:
                if name not in queues:
                    raise ValueError(f"slo.queue_wait_p95_s: no queue {name!r} in queues.queues")
        if self.scaling.policy == "queue-backlog":
            # Production points that policy at job workers; the model has no worker tier.
            raise ValueError(
                "scaling.policy: queue-backlog scales job workers, which the model does not"
                " simulate (it scales API pods): use target-tracking or seed"
            )
        return self

    @property
    def queue_targets(self) -> dict[str, float]:
        """The job-wait p95 targets of the scenario's queues (name -> seconds)."""
        queues = {q.name for q in self.queues.queues}
        return {k: v for k, v in self.slo.queue_wait_p95_s.items() if k in queues}

    @property
    def config(self) -> PerfcoreConfig:
        """The embedded perfcore configuration, as production would load it."""
        return PerfcoreConfig(**{name: getattr(self, name) for name in PLATFORM_SECTIONS})


PLATFORM_SECTIONS: tuple[str, ...] = tuple(PerfcoreConfig.model_fields)


def load_scenario(
    path: Path | None = None,
    overrides: list[str] | None = None,
    *,
    config_path: Path | None = None,
    seed: int | None = None,
) -> Scenario:
    """Load a scenario (the built-in default when ``path`` is None).

    ``config_path`` is a perfcore configuration file (e.g. a tuner's
    ``recommended.yaml``) whose sections replace the scenario's; its
    ``infrastructure`` mapping, if any (a calibration), is applied value by
    value like ``--set``, keeping every cost it does not name; ``overrides``
    (``dotted.path=value``) apply last, into the default request classes,
    queries, job types and cache namespaces unless the input gave its own.
    Errors are one-line :class:`ConfigError`.
    """
    data: Any = read_yaml_file(path) if path is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    calibrated: list[str] = []
    if config_path is not None:
        config = read_yaml_file(config_path) or {}
        if not isinstance(config, dict):
            raise ConfigError(f"{config_path}: expected a mapping at the top level")
        # A calibration (perfcore calibrate) also carries fitted infrastructure costs.
        calibrated = _as_overrides(config.pop("infrastructure", None) or {}, "infrastructure")
        validate_model(PerfcoreConfig, config)
        data = {**data, **{k: v for k, v in config.items() if k in PLATFORM_SECTIONS}}
    # Overrides into a mapping (one request class, one route) keep its other default entries.
    data = apply_overrides(data, calibrated + (overrides or []), Scenario().model_dump(mode="json"))
    if seed is not None:
        data["seed"] = seed
    return validate_model(Scenario, data)


def _as_overrides(tree: Any, prefix: str) -> list[str]:
    """``{"a": {"b": 1}}`` under ``prefix`` as ``["prefix.a.b=1"]`` (values as JSON, which is YAML)."""
    if not isinstance(tree, dict):
        return [f"{prefix}={json.dumps(tree)}"]
    return [item for key, value in tree.items() for item in _as_overrides(value, f"{prefix}.{key}")]
