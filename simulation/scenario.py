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
300 overlapping events, 200,000 attendees, 24 simulated hours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from perfcore.config import (
    CacheConfig,
    ConfigError,
    DbOptConfig,
    NamespaceConfig,
    PerfcoreConfig,
    QueuesConfig,
    ScalingConfig,
    Section,
    apply_overrides,
    read_yaml_file,
    validate_model,
)

RequestClass = Literal[
    "list_active_events",
    "event_detail",
    "attendee_profile",
    "session_page",
    "register",
    "check_in",
    "organizer_dashboard",
    "export_report",
]
# The platform endpoints the model knows, in a fixed order (their index is the
# class id in the model's arrays).
REQUEST_CLASSES: tuple[RequestClass, ...] = (
    "list_active_events",
    "event_detail",
    "attendee_profile",
    "session_page",
    "register",
    "check_in",
    "organizer_dashboard",
    "export_report",
)
# What a cached read of each class is keyed by: one listing, an event, an attendee, a session.
KeySpace = Literal["global", "event", "attendee", "session"]
KEY_SPACE: dict[str, KeySpace] = {
    "list_active_events": "global",
    "event_detail": "event",
    "attendee_profile": "attendee",
    "session_page": "session",
    "register": "attendee",
    "check_in": "attendee",
    "organizer_dashboard": "event",
    "export_report": "event",
}


# ------------------------------------------------------------------ workload


class EventsSpec(Section):
    """The day's events: how many, how big, when."""

    count: int = Field(300, ge=0)
    total_attendees: int = Field(200_000, ge=0)
    size_sigma: float = Field(1.2, ge=0, description="lognormal sigma of event sizes (heavy tail)")
    min_attendees: int = Field(10, ge=1)
    first_start_h: float = Field(1.0, ge=0, description="earliest event start (hours)")
    last_start_h: float = Field(21.0, ge=0, description="latest event start (hours)")
    duration_h: tuple[float, float] = Field((1.0, 4.0), description="uniform range of durations")
    registration_window_h: float = Field(6.0, gt=0, description="registration ramp before start")
    sessions_per_event: int = Field(8, ge=1)
    attendees_per_organizer: int = Field(400, ge=1, description="one dashboard per this many")

    @model_validator(mode="after")
    def _ordered(self) -> EventsSpec:
        if self.last_start_h < self.first_start_h:
            raise ValueError("last_start_h must not be before first_start_h")
        if not 0 < self.duration_h[0] <= self.duration_h[1]:
            raise ValueError("duration_h must be (low, high) with 0 < low <= high")
        return self


class BehaviourSpec(Section):
    """What one attendee (or organizer) does around an event."""

    register_fraction: float = Field(1.0, ge=0, le=1)
    checkin_fraction: float = Field(0.9, ge=0, le=1)
    checkin_before_start_min: float = Field(10.0, description="check-in spike centre")
    checkin_spread_min: float = Field(10.0, gt=0, description="check-in spike std deviation")
    detail_views: float = Field(5.0, ge=0, description="event page views per attendee")
    profile_views: float = Field(3.0, ge=0, description="attendee profiles viewed during the event")
    session_views: float = Field(12.0, ge=0, description="session pages viewed during the event")
    listing_views: float = Field(3.0, ge=0, description="active-events listing views")
    dashboard_poll_s: float = Field(10.0, gt=0, description="organizer dashboard polling period")
    dashboard_lead_h: float = Field(1.0, ge=0, description="dashboards open this long before start")
    exports_per_event: float = Field(4.0, ge=0, description="export/report requests after the end")


class StreamSpec(Section):
    """A stationary Poisson stream of one request class (flash crowds, tests).

    The rate ramps linearly from 0 over ``ramp_s`` and stays until ``end_s``;
    keys are drawn uniformly from the first ``keys`` keys of the class's key space.
    """

    request_class: RequestClass
    rate_per_s: float = Field(gt=0)
    start_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, gt=0, description="None: until the horizon")
    ramp_s: float = Field(0.0, ge=0)
    keys: int = Field(1, ge=1)


class TimedJobSpec(Section):
    """Jobs created by time: Poisson at ``rate_per_s`` or one every ``every_s``."""

    job_type: str
    rate_per_s: float | None = Field(None, gt=0)
    every_s: float | None = Field(None, gt=0)
    start_s: float = Field(0.0, ge=0)

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

    reminder_lead_h: float = Field(2.0, ge=0, description="reminder batch before the start")
    attendees_per_reminder_job: int = Field(100, ge=1)
    analytics_every_s: float = Field(300.0, gt=0, description="analytics_processing while live")
    reports_at_end: int = Field(1, ge=0, description="report_generation jobs at the end")


class WorkloadSpec(Section):
    events: EventsSpec = Field(default_factory=EventsSpec)
    behaviour: BehaviourSpec = Field(default_factory=BehaviourSpec)
    streams: list[StreamSpec] = Field(default_factory=list)
    timed_jobs: list[TimedJobSpec] = Field(default_factory=_default_timed_jobs)
    event_jobs: EventJobsSpec = Field(default_factory=EventJobsSpec)


# ------------------------------------------------------------ infrastructure

ServiceDist = Literal["exponential", "deterministic", "lognormal"]


class ClassSpec(Section):
    """Cost and behaviour of one endpoint."""

    cpu_ms: float = Field(gt=0, description="mean CPU time of one request")
    namespace: str | None = Field(None, description="cache namespace; None: never cached")
    db_query: str | None = Field(None, description="query class run on a miss (or always if write)")
    write: bool = False
    invalidates: list[str] = Field(
        default_factory=list, description="namespaces a write invalidates"
    )
    jobs: dict[str, float] = Field(default_factory=dict, description="job type -> probability")


def _default_classes() -> dict[RequestClass, ClassSpec]:
    return {
        "list_active_events": ClassSpec(
            cpu_ms=15.0, namespace="active_events", db_query="list_active_events"
        ),
        "event_detail": ClassSpec(cpu_ms=10.0, namespace="event_detail", db_query="event_by_id"),
        "attendee_profile": ClassSpec(
            cpu_ms=10.0, namespace="attendee_profile", db_query="attendee_by_id"
        ),
        "session_page": ClassSpec(cpu_ms=8.0, namespace="session_page", db_query="session_by_id"),
        "register": ClassSpec(
            cpu_ms=30.0,
            db_query="insert_registration",
            write=True,
            invalidates=["event_detail", "attendee_profile", "dashboard"],
            jobs={"notification_sending": 1.0},
        ),
        "check_in": ClassSpec(
            cpu_ms=20.0,
            db_query="update_checkin",
            write=True,
            invalidates=["attendee_profile", "dashboard"],
            jobs={"real_time_notification": 0.2, "dashboard_update": 0.5},
        ),
        "organizer_dashboard": ClassSpec(
            cpu_ms=40.0, namespace="dashboard", db_query="dashboard_stats"
        ),
        "export_report": ClassSpec(
            cpu_ms=15.0, jobs={"data_export": 0.5, "report_generation": 0.3, "user_report": 0.2}
        ),
    }


class QuerySpec(Section):
    """One query class's mean service time on a database connection."""

    with_index_ms: float = Field(gt=0)
    without_index_ms: float = Field(gt=0)


def _default_queries() -> dict[str, QuerySpec]:
    q = QuerySpec
    return {
        "list_active_events": q(with_index_ms=4.0, without_index_ms=40.0),
        "event_by_id": q(with_index_ms=1.0, without_index_ms=25.0),
        "attendee_by_id": q(with_index_ms=1.0, without_index_ms=60.0),
        "session_by_id": q(with_index_ms=1.0, without_index_ms=15.0),
        "insert_registration": q(with_index_ms=3.0, without_index_ms=5.0),
        "update_checkin": q(with_index_ms=2.0, without_index_ms=50.0),
        "dashboard_stats": q(with_index_ms=25.0, without_index_ms=400.0),
    }


class DatabaseSpec(Section):
    connections: int = Field(40, gt=0, description="connection pool size (servers)")
    indexed: bool = Field(True, description="service times with (True) or without indexes")
    queries: dict[str, QuerySpec] = Field(default_factory=_default_queries)


class ApiSpec(Section):
    slots_per_replica: int = Field(4, gt=0, description="concurrent requests per replica (workers)")
    cpus_per_replica: int = Field(1, gt=0, description="CPUs of a pod: CPU bursts queue for them")
    startup_s: float = Field(45.0, ge=0, description="pod start-up delay until ready")
    initial_replicas: int | None = Field(None, gt=0, description="None: scaling.min_replicas")
    service: ServiceDist = Field("exponential", description="CPU time distribution")
    service_cv: float = Field(1.0, gt=0, description="coefficient of variation for lognormal")
    memory_base: float = Field(0.30, ge=0, lt=1, description="memory fraction of an idle pod")
    memory_per_busy_slot: float = Field(0.05, ge=0, description="extra fraction per busy slot")
    cost_per_pod_hour: float = Field(0.10, ge=0)


class CacheTierSpec(Section):
    enabled: bool = True
    l1_lookup_ms: float = Field(0.02, ge=0)
    l2_rtt_ms: float = Field(0.6, ge=0, description="Redis round trip on an L1 miss")


class JobTypeSpec(Section):
    service_s: float = Field(gt=0, description="mean processing time (exponential)")
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


class InfrastructureSpec(Section):
    api: ApiSpec = Field(default_factory=ApiSpec)
    request_classes: dict[RequestClass, ClassSpec] = Field(default_factory=_default_classes)
    cache: CacheTierSpec = Field(default_factory=CacheTierSpec)
    db: DatabaseSpec = Field(default_factory=DatabaseSpec)
    job_types: dict[str, JobTypeSpec] = Field(default_factory=_default_job_types)


# ----------------------------------------------------------------- scenario


class SloSpec(Section):
    p95_ms: float = Field(250.0, gt=0, description="a minute whose p95 exceeds this violates")


def _default_scenario_cache() -> CacheConfig:
    # Event pages, profiles and session pages use default_ttl_s; the listing and
    # the dashboards change too often for that.
    return CacheConfig(
        namespaces={
            "active_events": NamespaceConfig(ttl_s=30.0),
            "dashboard": NamespaceConfig(ttl_s=10.0, use_memory=False),
        }
    )


class Scenario(Section):
    """A whole simulation input: workload, infrastructure, SLO and platform config."""

    seed: int = Field(1, ge=0)
    horizon_s: float = Field(86_400.0, gt=0)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    infrastructure: InfrastructureSpec = Field(default_factory=InfrastructureSpec)
    slo: SloSpec = Field(default_factory=SloSpec)
    cache: CacheConfig = Field(default_factory=_default_scenario_cache)
    queues: QueuesConfig = Field(default_factory=QueuesConfig)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    dbopt: DbOptConfig = Field(default_factory=DbOptConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        infra = self.infrastructure
        for name, spec in infra.request_classes.items():
            if spec.db_query is not None and spec.db_query not in infra.db.queries:
                raise ValueError(f"request class {name}: unknown db_query {spec.db_query!r}")
            for job_type in spec.jobs:
                if job_type not in infra.job_types:
                    raise ValueError(f"request class {name}: unknown job type {job_type!r}")
        for timed in self.workload.timed_jobs:
            if timed.job_type not in infra.job_types:
                raise ValueError(f"timed job: unknown job type {timed.job_type!r}")
        return self

    @property
    def platform(self) -> PerfcoreConfig:
        """The embedded perfcore configuration, as production would load it."""
        return PerfcoreConfig(
            cache=self.cache, queues=self.queues, scaling=self.scaling, dbopt=self.dbopt
        )


PLATFORM_SECTIONS = ("cache", "queues", "scaling", "dbopt")


def load_scenario(
    path: Path | None = None,
    overrides: list[str] | None = None,
    *,
    platform_path: Path | None = None,
    seed: int | None = None,
) -> Scenario:
    """Load a scenario (the built-in default when ``path`` is None).

    ``platform_path`` is a perfcore configuration file (e.g. a tuner's
    ``recommended.yaml``) whose sections replace the scenario's; ``overrides``
    (``dotted.path=value``) apply last, into the default request classes,
    queries, job types and cache namespaces unless the input gave its own.
    Errors are one-line :class:`ConfigError`.
    """
    data: Any = read_yaml_file(path) if path is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if platform_path is not None:
        platform = read_yaml_file(platform_path) or {}
        if not isinstance(platform, dict):
            raise ConfigError(f"{platform_path}: expected a mapping at the top level")
        validate_model(PerfcoreConfig, platform)
        data = {**data, **{k: v for k, v in platform.items() if k in PLATFORM_SECTIONS}}
    # Overrides into a mapping (one request class, one route) keep its other default entries.
    data = apply_overrides(data, overrides or [], Scenario().model_dump(mode="json"))
    if seed is not None:
        data["seed"] = seed
    return validate_model(Scenario, data)
