"""The platform description: endpoints, request classes, cache namespaces, invalidations, jobs.

One object, :data:`PLATFORM`, loaded from the shipped ``platform.yaml`` and
validated once (every reference between its parts must resolve). It holds
facts only -- what each endpoint is, which namespace caches it and by which
key, what a write invalidates, which jobs a request enqueues -- never costs or
rates, which belong to a scenario.

    >>> PLATFORM.request_classes["register"].endpoint.path
    '/events/{event_id}/registrations'
    >>> [i.namespace for i in PLATFORM.request_classes["check_in"].invalidates]
    ['attendee_profile', 'dashboard']
    >>> PLATFORM.cache_key("event", {"event_id": 7}), PLATFORM.cache_key("global", {})
    ('7', 'all')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

KeySpace = Literal["global", "event", "attendee", "session"]
GLOBAL_KEY = "all"  # the one key of a namespace keyed by "global"
Role = Literal["public", "attendee", "organizer"]
# Whose token a role's request needs: the attendee's own, the event's organizer's.
ROLE_KEY: dict[Role, KeySpace | None] = {
    "public": None,
    "attendee": "attendee",
    "organizer": "event",
}


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Fact):
    method: Literal["GET", "POST"]
    path: str = Field(pattern=r"^/[A-Za-z0-9_/{}-]*$", description="path template")

    @property
    def params(self) -> list[str]:
        """The path template's parameters, in order (``/events/{event_id}`` -> event_id)."""
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


class Invalidation(_Fact):
    """A write drops ``namespace``'s entry for the request's ``key`` parameter."""

    namespace: str
    key: KeySpace


class RequestClass(_Fact):
    """One endpoint and everything the platform does for it."""

    endpoint: Endpoint
    auth: Role = Field("public", description="who may call it (perfcore.service.auth)")
    key: KeySpace = Field(description="what the request is about; a cached read's key")
    namespace: str | None = Field(None, description="cache namespace of a read; None: uncached")
    query: str | None = Field(None, description="query class run (on a miss, or always if write)")
    write: bool = False
    invalidates: list[Invalidation] = Field(default_factory=list)
    jobs: dict[str, float] = Field(
        default_factory=dict,
        description="job type -> probability a request enqueues it; when they sum to <= 1 a"
        " request enqueues at most one (see Platform.jobs_for)",
    )
    caller_picks_job: bool = Field(
        False, description="the request body names the job (one of jobs); else jobs_for draws"
    )


class QueryClass(_Fact):
    tables: list[str] = Field(min_length=1)


class RouteFact(_Fact):
    queue: str
    priority: int = Field(ge=1)


class JobType(_Fact):
    handler: Literal["notification", "analytics", "report", "export"]
    route: RouteFact


class LifecycleJobs(_Fact):
    reminder: str
    live_analytics: str
    final_report: str


class Platform(_Fact):
    """The whole description; cross-references are checked on load."""

    key_spaces: dict[KeySpace, str | None]
    request_classes: dict[str, RequestClass]
    queries: dict[str, QueryClass]
    job_types: dict[str, JobType]
    lifecycle_jobs: LifecycleJobs

    @model_validator(mode="after")
    def _references_resolve(self) -> Platform:
        namespaces = self.namespaces
        for name, rc in self.request_classes.items():
            if rc.query is not None and rc.query not in self.queries:
                raise ValueError(f"request_classes.{name}.query: unknown query {rc.query!r}")
            for inv in rc.invalidates:
                if namespaces.get(inv.namespace) != inv.key:
                    raise ValueError(
                        f"request_classes.{name}.invalidates: {inv.namespace} keyed by {inv.key}"
                        " is not a cached namespace with that key"
                    )
            for job in rc.jobs:
                if job not in self.job_types:
                    raise ValueError(f"request_classes.{name}.jobs: unknown job type {job!r}")
            if rc.namespace is not None and rc.write:
                raise ValueError(f"request_classes.{name}: a write is never cached")
            # A read is keyed by its path alone (a write may take a key from its body).
            param = self.key_spaces[rc.key]
            if rc.namespace and param is not None and param not in rc.endpoint.params:
                raise ValueError(f"request_classes.{name}.key: {param} is not in the path")
        for moment, job in self.lifecycle_jobs.model_dump().items():
            if job not in self.job_types:
                raise ValueError(f"lifecycle_jobs.{moment}: unknown job type {job!r}")
        return self

    @cached_property
    def namespaces(self) -> dict[str, KeySpace]:
        """Every cached namespace and its key space (one key space per namespace)."""
        found: dict[str, KeySpace] = {}
        for name, rc in self.request_classes.items():
            if rc.namespace is None:
                continue
            known = found.setdefault(rc.namespace, rc.key)
            if known != rc.key:
                raise ValueError(f"request_classes.{name}.key: {rc.namespace} is keyed by {known}")
        return found

    @property
    def class_names(self) -> tuple[str, ...]:
        """Request classes in file order (the simulation's class ids)."""
        return tuple(self.request_classes)

    def cache_key(self, space: KeySpace, params: Mapping[str, Any]) -> str:
        """The cache key of a value in key space ``space`` for a request's parameters."""
        param = self.key_spaces[space]
        return GLOBAL_KEY if param is None else str(params[param])

    def jobs_for(self, name: str, uniform: Callable[[], float]) -> list[str]:
        """The job types one request of class ``name`` enqueues; ``uniform`` draws from [0, 1).

        When the class's probabilities sum to at most 1, one draw picks at most
        one type (disjoint slices, in name order); otherwise each type is an
        independent draw. The simulation applies the same rule to whole arrays.
        """
        jobs = sorted(self.request_classes[name].jobs.items())
        if sum(p for _, p in jobs) > 1.0:
            return [job for job, p in jobs if uniform() < p]
        u, lo = uniform(), 0.0
        for job, p in jobs:
            if lo <= u < lo + p:
                return [job]
            lo += p
        return []


def load_platform(text: str) -> Platform:
    """Parse and validate a platform description (YAML text)."""
    return Platform.model_validate(yaml.safe_load(text))


PLATFORM: Platform = load_platform(
    resources.files("perfcore.platform").joinpath("platform.yaml").read_text(encoding="utf-8")
)
