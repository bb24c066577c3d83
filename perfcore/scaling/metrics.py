"""Metrics sources: where the autoscaler reads utilisation, request rate and backlog.

A source returns a :class:`Sample`; any metric it cannot read is ``None`` (the
policies never scale down on a missing metric) and the reason is kept in
``Sample.errors`` so the loop can log it and raise an alert.

* :class:`PrometheusSource` -- instant queries against the Prometheus HTTP API.
* :class:`ProcessSource` -- CPU and memory of local processes via psutil.
* :class:`BullMQBacklogSource` -- jobs not yet started in BullMQ queues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import psutil

from perfcore.config import QueuesConfig

METRIC_NAMES = ("cpu", "memory", "request_rate", "queue_backlog")


@dataclass(frozen=True)
class Sample:
    """One reading of every metric; ``None`` = could not be read."""

    cpu: float | None = None
    memory: float | None = None
    request_rate: float | None = None
    queue_backlog: float | None = None
    errors: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in METRIC_NAMES}


class MetricsSource(Protocol):
    def read(self) -> Sample:
        """The current metrics; never raises for an unreadable metric."""
        ...


# Sensible defaults for a Deployment whose pods expose cAdvisor and an HTTP
# request counter; override per metric in ``scaling.prometheus_queries``.
DEFAULT_PROMQL: dict[str, str] = {
    "cpu": (
        'sum(rate(container_cpu_usage_seconds_total{{namespace="{namespace}",'
        'pod=~"{deployment}-.*",container!=""}}[1m]))'
        ' / sum(kube_pod_container_resource_requests{{namespace="{namespace}",'
        'pod=~"{deployment}-.*",resource="cpu"}})'
    ),
    "memory": (
        'sum(container_memory_working_set_bytes{{namespace="{namespace}",'
        'pod=~"{deployment}-.*",container!=""}})'
        ' / sum(kube_pod_container_resource_requests{{namespace="{namespace}",'
        'pod=~"{deployment}-.*",resource="memory"}})'
    ),
    "request_rate": (
        'sum(rate(http_requests_total{{namespace="{namespace}",pod=~"{deployment}-.*"}}[1m]))'
    ),
}


class PrometheusSource:
    """Instant queries (``GET /api/v1/query``), one per configured metric."""

    def __init__(
        self,
        url: str,
        queries: Mapping[str, str],
        *,
        client: httpx.Client | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        unknown = sorted(set(queries) - set(METRIC_NAMES))
        if unknown:
            from perfcore.errors import BadInput

            raise BadInput(f"scaling.prometheus_queries: unknown metric {unknown[0]!r}")
        self.url = url.rstrip("/")
        self.queries = dict(queries)
        self.client = client or httpx.Client(timeout=timeout_s)

    @classmethod
    def for_deployment(
        cls, url: str, namespace: str, deployment: str, overrides: Mapping[str, str]
    ) -> PrometheusSource:
        """Default PromQL for one Deployment, with ``overrides`` replacing any of it."""
        templates = {**DEFAULT_PROMQL, **overrides}
        queries = {
            name: q.format(namespace=namespace, deployment=deployment)
            for name, q in templates.items()
        }
        return cls(url, queries)

    def read(self) -> Sample:
        values: dict[str, float | None] = {}
        errors: list[str] = []
        for name, query in self.queries.items():
            try:
                values[name] = self.query(query)
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                values[name] = None
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return Sample(**values, errors=tuple(errors))

    def query(self, promql: str) -> float | None:
        """The first sample of an instant vector or scalar; None for an empty result."""
        response = self.client.get(f"{self.url}/api/v1/query", params={"query": promql})
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(f"prometheus: {body.get('error', 'query failed')}")
        data = body["data"]
        if data["resultType"] == "scalar":
            raw = data["result"][1]
        elif data["resultType"] == "vector":
            if not data["result"]:
                return None
            raw = data["result"][0]["value"][1]
        else:
            raise ValueError(f"prometheus: unsupported result type {data['resultType']}")
        value = float(raw)
        # NaN (e.g. 0/0 when no pod is running) is no reading at all.
        return None if value != value else value


class ProcessSource:
    """Average CPU and memory of some local processes (e.g. the workers we run).

    psutil's first ``cpu_percent`` call for a process only starts the clock, so a
    process seen for the first time contributes no CPU reading; that keeps a
    fresh worker from looking idle.
    """

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self.pids = pids
        self._procs: dict[int, psutil.Process] = {}

    def read(self) -> Sample:
        cpus: list[float] = []
        mems: list[float] = []
        errors: list[str] = []
        alive: dict[int, psutil.Process] = {}
        for pid in self.pids():
            known = self._procs.get(pid)
            try:
                proc = known or psutil.Process(pid)
                cpu = proc.cpu_percent(interval=None) / 100.0
                mems.append(proc.memory_percent() / 100.0)
                if known is not None:
                    cpus.append(cpu)
                alive[pid] = proc
            except psutil.Error as exc:
                errors.append(f"pid {pid}: {type(exc).__name__}")
        self._procs = alive
        return Sample(
            cpu=sum(cpus) / len(cpus) if cpus else None,
            memory=sum(mems) / len(mems) if mems else None,
            errors=tuple(errors),
        )


class BullMQBacklogSource:
    """Jobs not yet started (waiting, prioritized, delayed), summed over BullMQ queues."""

    def __init__(
        self,
        config: QueuesConfig,
        *,
        queues: Iterable[str] | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.config = config
        self.queues = list(queues) if queues is not None else None
        self.redis_url = redis_url or config.redis_url

    def read(self) -> Sample:
        from perfcore.queues.manager import backlog

        try:
            counts = backlog(self.redis_url, self.queues, config=self.config)
        except Exception as exc:  # any failure is a missing metric, never a crash
            return Sample(errors=(f"queue_backlog: {type(exc).__name__}: {exc}",))
        return Sample(queue_backlog=float(sum(counts.values())))


class CombinedSource:
    """Several sources merged; a later source fills only metrics earlier ones lacked."""

    def __init__(self, *sources: MetricsSource) -> None:
        self.sources = sources

    def read(self) -> Sample:
        values: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
        errors: list[str] = []
        for source in self.sources:
            sample = source.read()
            errors.extend(sample.errors)
            for name, value in sample.as_dict().items():
                if values[name] is None:
                    values[name] = value
        return Sample(**values, errors=tuple(errors))
