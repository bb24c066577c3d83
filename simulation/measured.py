"""A measured run, read from a ``perfcore loadtest --out`` directory: server-side deltas and Locust.

The server's truth is the difference of its ``/metrics`` after and before the
run (``metrics_before.prom``, ``metrics_after.prom``; or from the warm-up
mark, ``metrics_warm.prom``, to leave the run's start out): per route the request
count and latency histogram, cache hits and misses, per query class the
database call time, the cache Redis round trip. Locust's view is its final
``locust_final.json`` (exact per-endpoint counts, percentiles and
per-second request counts). Missing or unusable files are
:class:`~perfcore.errors.BadInput` naming the file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from perfcore.errors import BadInput
from perfcore.platform import PLATFORM

BEFORE, AFTER, FINAL = "metrics_before.prom", "metrics_after.prom", "locust_final.json"
WARM, WARM_AT = "metrics_warm.prom", "metrics_warm.json"  # loadtest --warmup's mark
STACK_CPU = "stack_cpu.json"
JOB_WORKER = "worker"  # the job worker's name among stack_cpu.json's processes
Labels = tuple[tuple[str, str], ...]
# "METHOD /path/{template}" -> request class, from the platform description.
ENDPOINT_CLASS = {
    f"{rc.endpoint.method} {rc.endpoint.path}": name
    for name, rc in PLATFORM.request_classes.items()
}


def _samples(path: Path) -> dict[tuple[str, Labels], float]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
    out: dict[tuple[str, Labels], float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    except ValueError as exc:
        raise BadInput(f"{path}: not Prometheus text ({exc})") from None
    return out


@dataclass
class Histogram:
    """One labelled histogram's delta: cumulative bucket counts by upper bound, sum, count."""

    buckets: dict[float, float] = field(default_factory=dict)
    total: float = 0.0
    count: float = 0.0

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def quantile(self, q: float) -> float:
        """Linear interpolation within the bucket holding the ``q`` quantile (Prometheus' rule)."""
        if self.count <= 0:
            return float("nan")
        rank, lower, below = q * self.count, 0.0, 0.0
        for upper in sorted(self.buckets):
            cum = self.buckets[upper]
            if cum >= rank:
                if upper == float("inf"):
                    return lower
                width = cum - below
                return lower + (upper - lower) * ((rank - below) / width if width else 1.0)
            lower, below = upper, cum
        return lower

    def cv(self) -> float:
        """Coefficient of variation from bucket midpoints (an estimate of the spread)."""
        if self.count <= 1:
            return float("nan")
        lower, below, m1, m2 = 0.0, 0.0, 0.0, 0.0
        for upper in sorted(self.buckets):
            n = self.buckets[upper] - below
            mid = lower * 1.5 if upper == float("inf") else (lower + upper) / 2
            m1, m2 = m1 + n * mid, m2 + n * mid * mid
            lower, below = (upper if upper != float("inf") else lower), self.buckets[upper]
        mean = m1 / self.count
        var = max(m2 / self.count - mean * mean, 0.0)
        return float(var**0.5 / mean) if mean > 0 else float("nan")


@dataclass
class ServerDelta:
    """What the server counted during the run (after minus before)."""

    routes: dict[str, Histogram]  # "METHOD /template" -> latency (s)
    cache: dict[str, dict[str, float]]  # "METHOD /template" -> {"hit": n, "miss": n}
    queries: dict[str, Histogram]  # query class -> database call time (s)
    l2: dict[str, Histogram]  # op -> cache Redis time (s)
    lookups: dict[tuple[str, str, str], float]  # (namespace, tier, result) -> count
    cpu_s: float | None  # the server process's CPU seconds (user + system) during the run
    # Every stack process's CPU seconds (stack_cpu.json, when the run recorded it) and
    # how many CPUs the stack was pinned to (None: not pinned, the kernel spread it).
    stack_cpu_s: dict[str, float] | None = None
    stack_cpus: int | None = None
    stack_wall_s: float | None = None  # how long the stack CPU was sampled
    stack_idle_share: float | None = None  # CPU-s per s the stack used with no traffic
    stack_idle_by: dict[str, float] | None = None  # the same, per process


def _histograms(
    after: dict[tuple[str, Labels], float],
    before: dict[tuple[str, Labels], float],
    name: str,
    key: tuple[str, ...],
) -> dict[str, Histogram]:
    out: dict[str, Histogram] = defaultdict(Histogram)
    for (sample, labels), value in after.items():
        if not sample.startswith(name):
            continue
        lab = dict(labels)
        ident = " ".join(lab.get(k, "") for k in key)
        delta = value - before.get((sample, labels), 0.0)
        if sample == f"{name}_bucket":
            out[ident].buckets[float(lab["le"])] = delta
        elif sample == f"{name}_sum":
            out[ident].total = delta
        elif sample == f"{name}_count":
            out[ident].count = delta
    return {k: h for k, h in out.items() if h.count > 0}


def warm_mark(directory: Path) -> float | None:
    """Epoch seconds of the run's warm-up mark (``loadtest --warmup``), if it has one."""
    path = directory / WARM_AT
    if not path.is_file() or not (directory / WARM).is_file():
        return None
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a warm-up mark ({exc})") from None


def read_server(directory: Path, since_warm: bool = False) -> ServerDelta:
    """The server-side deltas of a measured run directory (from its warm-up mark, if asked)."""
    start = WARM if since_warm else BEFORE
    for name in (start, AFTER):
        if not (directory / name).is_file():
            raise BadInput(
                f"{directory / name}: missing (run perfcore loadtest --out DIR against a target"
                " that serves /metrics)"
            )
    after, before = _samples(directory / AFTER), _samples(directory / start)
    routes = _histograms(
        after, before, "perfcore_http_request_duration_seconds", ("method", "route")
    )
    routes = {k: h for k, h in routes.items() if k in ENDPOINT_CLASS}
    if not routes:
        raise BadInput(f"{directory / AFTER}: no platform requests were served during the run")
    cache: dict[str, dict[str, float]] = defaultdict(dict)
    lookups: dict[tuple[str, str, str], float] = {}
    method_of = {rc.endpoint.path: rc.endpoint.method for rc in PLATFORM.request_classes.values()}
    for (sample, labels), value in after.items():
        lab = dict(labels)
        delta = value - before.get((sample, labels), 0.0)
        if sample == "perfcore_route_cache_results_total":
            endpoint = f"{method_of.get(lab['route'], 'GET')} {lab['route']}"
            cache[endpoint][lab["result"]] = delta
        elif sample == "perfcore_cache_lookups_total":
            lookups[(lab["namespace"], lab["tier"], lab["result"])] = delta
    return ServerDelta(
        routes,
        dict(cache),
        _histograms(after, before, "perfcore_db_query_duration_seconds", ("query",)),
        _histograms(after, before, "perfcore_cache_l2_duration_seconds", ("op",)),
        lookups,
        _delta(after, before, "process_cpu_seconds_total"),
        *read_stack_cpu(directory),
    )


def read_stack_cpu(
    directory: Path,
) -> tuple[
    dict[str, float] | None, int | None, float | None, float | None, dict[str, float] | None
]:
    """``stack_cpu.json``: CPU seconds per stack process, pinned CPUs, wall time, idle shares.

    Written by the fidelity experiment from ``/proc/<pid>/stat`` of every
    process of the deployment: ``{"wall_s": s, "processes": {name: {"cpu_s":
    ...}}, "pinning": {"stack_cpus": [...]}, "idle": {"wall_s": s,
    "processes": {...}}}`` (``idle``: a spell with no traffic before the run;
    the job worker is the process named :data:`JOB_WORKER`); optional.
    """
    path = directory / STACK_CPU
    if not path.is_file():
        return None, None, None, None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cpu = {str(k): float(v["cpu_s"]) for k, v in data["processes"].items()}
        pinned = data.get("pinning", {}).get("stack_cpus") or []
        wall = float(data["wall_s"])
        idle = data.get("idle")
        by = (
            {
                str(k): float(v["cpu_s"]) / float(idle["wall_s"])
                for k, v in idle["processes"].items()
            }
            if idle and float(idle["wall_s"]) > 0
            else None
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"{path}: not a stack CPU record ({exc})") from None
    share = sum(by.values()) if by is not None else None
    return cpu, (len(pinned) or None), wall, share, by


def _delta(
    after: dict[tuple[str, Labels], float], before: dict[tuple[str, Labels], float], name: str
) -> float | None:
    if (name, ()) not in after or (name, ()) not in before:
        return None
    return after[(name, ())] - before[(name, ())]


def read_locust(directory: Path) -> list[dict[str, Any]]:
    """Locust's final per-endpoint statistics (``--json``) of the run."""
    from perfcore.service.locust_report import read_final_stats

    path = directory / FINAL
    if not path.is_file():
        raise BadInput(f"{path}: missing (a perfcore loadtest --out directory has it)")
    return read_final_stats(path)
