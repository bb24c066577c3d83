"""Trace replay: the model driven by measured arrivals instead of the scenario's workload.

A trace is what a measured run offered, per request class and second: Locust's
``num_reqs_per_sec`` per endpoint (its final ``--json`` statistics), or an
access log (CSV ``timestamp,method,path``; ids in the path become the cache
keys). The counts are replayed exactly -- a trace replay, not a re-draw;
within its second a request's time is uniform, and where the trace carries no
ids the key is uniform over the run's id pool (the service's seed size or the
plan's ``id_pools``).

:func:`replay` builds the platform for the trace's length with the deployment
pinned (no autoscaling, the given replicas) and returns every request's
arrival, class, end and cache outcome.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfcore.config import validate_model
from perfcore.errors import BadInput
from perfcore.platform import PLATFORM
from perfcore.platform.seed import SeedSize
from simulation.measured import ENDPOINT_CLASS
from simulation.model.platform import Platform, _Chunk
from simulation.scenario import KEY_SPACE, REQUEST_CLASSES, Scenario
from simulation.workload import CLASS_ID, Arrivals

DRAIN_S = 30.0  # simulated time after the last arrival, so every request completes


@dataclass(frozen=True)
class Trace:
    """Arrivals (seconds from the trace start) with class ids and keys (-1: draw one)."""

    time: NDArray[np.float64]
    cls: NDArray[np.int8]
    key: NDArray[np.int64]
    duration_s: float
    origin: float = 0.0  # epoch seconds of time 0 (when the source records wall time)


def pool_sizes(plan: dict[str, Any] | None) -> dict[str, int]:
    """Keys per key space the measured run drew ids from."""
    seed = SeedSize()
    sizes = {"global": 1, "event": seed.events, "attendee": seed.attendees,
             "session": seed.events * seed.sessions_per_event}  # fmt: skip
    pools = (plan or {}).get("id_pools", {})
    for space, param in (
        ("event", "event_id"),
        ("attendee", "attendee_id"),
        ("session", "session_id"),
    ):
        pool = pools.get(param)
        if pool:
            sizes[space] = (
                len(pool["values"])
                if pool.get("values")
                else int((pool.get("high") or sizes[space]) - pool.get("low", 1) + 1)
            )
    return sizes


def trace_from_locust(entries: list[dict[str, Any]], paths: dict[str, str] | None = None) -> Trace:
    """The per-second, per-endpoint request counts of Locust's final statistics."""
    endpoint_class = dict(ENDPOINT_CLASS)
    for cls_name, path in (paths or {}).items():
        method = PLATFORM.request_classes[cls_name].endpoint.method
        endpoint_class[f"{method} {path}"] = cls_name
    rows: list[tuple[int, int, int]] = []
    for e in entries:
        name = endpoint_class.get(f"{e['method']} {e['name']}")
        if name is None:
            continue
        rows += [(int(s), CLASS_ID[name], int(n)) for s, n in e["num_reqs_per_sec"].items()]
    if not rows:
        raise BadInput("measured: Locust's statistics have no platform endpoint with requests")
    t0 = min(r[0] for r in rows)
    rng = np.random.default_rng(0)
    secs = np.repeat([r[0] - t0 for r in rows], [r[2] for r in rows]).astype(np.float64)
    cls = np.repeat([r[1] for r in rows], [r[2] for r in rows]).astype(np.int8)
    times = secs + rng.random(secs.shape[0])
    order = np.argsort(times, kind="stable")
    duration = float(max(r[0] for r in rows) - t0 + 1)
    return Trace(
        times[order], cls[order], np.full(times.shape[0], -1, np.int64), duration, float(t0)
    )


def _template_regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>\\d+)", re.escape(path)) + "$")


_ROUTES = [
    (rc.endpoint.method, _template_regex(rc.endpoint.path), name)
    for name, rc in PLATFORM.request_classes.items()
]


def _route_of(method: str, path: str) -> tuple[str, re.Match[str]] | None:
    for m, regex, name in _ROUTES:
        match = regex.match(path) if m == method else None
        if match is not None:
            return name, match
    return None


def trace_from_access_log(path: Path) -> Trace:
    """An access-log CSV (``timestamp,method,path``; timestamp in epoch seconds or ISO 8601)."""
    times: list[float] = []
    classes: list[int] = []
    keys: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"timestamp", "method", "path"} - set(reader.fieldnames or [])
            if missing:
                raise BadInput(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for n, row in enumerate(reader, start=2):
                found = _route_of(row["method"].upper(), row["path"].split("?", 1)[0])
                if found is None:
                    continue  # not a platform endpoint
                name, match = found
                times.append(_timestamp(row["timestamp"], path, n))
                classes.append(CLASS_ID[name])
                param = (
                    PLATFORM.key_spaces[KEY_SPACE[name]] if KEY_SPACE[name] != "global" else None
                )
                value = match.groupdict().get(param) if param else "0"
                keys.append(int(value) - 1 if value is not None and int(value) > 0 else -1)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
    if not times:
        raise BadInput(f"{path}: no rows for a platform endpoint")
    t = np.asarray(times)
    order = np.argsort(t, kind="stable")
    origin = float(t.min())
    t = t[order] - origin
    return Trace(t, np.asarray(classes, np.int8)[order], np.asarray(keys, np.int64)[order],
                 float(t.max()) + 1.0, origin)  # fmt: skip


def _timestamp(text: str, path: Path, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise BadInput(
            f"{path}:{line}: timestamp {text!r} is neither epoch seconds nor ISO 8601"
        ) from None


def replay_scenario(
    scenario: Scenario, trace: Trace, sizes: dict[str, int], replicas: int
) -> Scenario:
    """``scenario`` reshaped to serve exactly the trace: its length, no own load, fixed replicas."""
    data = scenario.model_dump(mode="json")
    data["horizon_s"] = trace.duration_s + DRAIN_S
    wl = data["workload"]
    wl["events"]["count"] = 0
    # A write that leaves an event's session pages stale marks that event's block of
    # session keys: the blocks must be the measured platform's (its sessions per event).
    wl["events"]["sessions_per_event"] = max(sizes["session"] // max(sizes["event"], 1), 1)
    wl["timed_jobs"] = []
    # One negligible stream per class only sizes the key spaces (streams set them).
    wl["streams"] = [
        {"request_class": name, "rate_per_s": 1e-12, "keys": max(sizes[KEY_SPACE[name]], 1)}
        for name in REQUEST_CLASSES
    ]
    data["scaling"]["min_replicas"] = data["scaling"]["max_replicas"] = replicas
    data["infrastructure"]["api"]["initial_replicas"] = replicas
    return validate_model(Scenario, data)


class _TraceWorkload:
    """Serves the trace's arrivals chunk by chunk, as :class:`Workload` serves generated ones."""

    def __init__(self, trace: Trace, sizes: dict[str, int], seed: int) -> None:
        rng = np.random.default_rng(seed)
        space = [KEY_SPACE[n] for n in REQUEST_CLASSES]
        size = np.asarray([max(sizes[s], 1) for s in space])[trace.cls]
        drawn = (rng.random(trace.time.shape[0]) * size).astype(np.int64)
        key = np.where((trace.key >= 0) & (trace.key < size), trace.key, drawn)
        event_space = np.asarray([s == "event" for s in space])[trace.cls]
        other = rng.integers(0, max(sizes["event"], 1), key.shape[0])
        event = np.where(event_space, key, other)
        self.arrivals = Arrivals(trace.time, trace.cls, event, key)

    def chunk(self, t0: float, t1: float) -> Arrivals:
        a = self.arrivals
        lo, hi = np.searchsorted(a.time, [t0, t1])
        return Arrivals(a.time[lo:hi], a.cls[lo:hi], a.event[lo:hi], a.key[lo:hi])


class _RecordingPlatform(Platform):
    """The platform, keeping every request's arrival, class, end, cache outcome and handler start."""

    log: list[tuple[NDArray[Any], ...]]

    def _serve(self, chunk: _Chunk, lo: int, hi: int, stop: float) -> None:
        super()._serve(chunk, lo, hi, stop)
        _, _, _, _, ends, levels, begins = self._pending[-1]
        a = chunk.arrivals
        self.log.append(
            (a.time[lo:hi], a.cls[lo:hi], np.asarray(ends), np.asarray(levels, np.int8),
             np.asarray(begins))
        )  # fmt: skip


@dataclass(frozen=True)
class Replayed:
    time: NDArray[np.float64]
    cls: NDArray[np.int8]
    latency_ms: NDArray[np.float64]  # arrival to end: the client's view, without the network
    level: NDArray[np.int8]
    handler_ms: NDArray[np.float64]  # handler start to end: the server's own timer


def replay(scenario: Scenario, trace: Trace, sizes: dict[str, int], replicas: int = 1) -> Replayed:
    """Run the model on the trace; per request: arrival, class, latencies and cache outcome."""
    sc = replay_scenario(scenario, trace, sizes, replicas)
    platform = _RecordingPlatform(sc)
    platform.log = []
    platform.workload = _TraceWorkload(trace, sizes, sc.seed)  # type: ignore[assignment]
    platform.run()
    if not platform.log:
        empty = np.empty(0)
        return Replayed(empty, np.empty(0, np.int8), empty, np.empty(0, np.int8), empty)
    time, cls, end, level, handler = (
        np.concatenate(col) for col in zip(*platform.log, strict=True)
    )
    return Replayed(time, cls, (end - time) * 1000.0, level, (end - handler) * 1000.0)
