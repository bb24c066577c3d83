"""Calibration: the scenario's cost parameters fitted from a measured low-load run.

At low load nothing queues, so a request's mean server-side time is the sum
of what the model charges it (:mod:`simulation.model.requests`):

* a cached read: ``cpu + P(L1 miss) * rtt + P(miss) * (db + rtt)``;
* a write: ``cpu + db + invalidations * rtt``; an uncached call: ``cpu + db``.

The server measures each term but the CPU: route latency per route, hits and
misses per route, L1/L2 lookups per namespace, database call time per query
class (checkout, driver work and statements, as the process sees them), and
the cache Redis round trip. So ``db`` and ``rtt`` are read off, and each
class's ``cpu_ms`` is its mean minus the rest -- it includes the handler's
other work (HTTP parsing, JSON, the recipient lookup and job submission of a
write). When the server reports its process CPU seconds (it does), those are
the truth: the classes' times are scaled down so that they add up to the CPU
the process actually used -- on a shared machine, time spent waiting for a
core inflates latency, not CPU. Classes with fewer than ``min_requests``
requests are not fitted (their defaults stay) and are named in the report.
"""

from __future__ import annotations

from typing import Any

from perfcore.errors import BadInput
from perfcore.platform import PLATFORM
from simulation.calibrate_core import (
    Fitted,
    background_share,
    core_fit,
    handoff_fit,
    shared_query_share,
    unshared,
)
from simulation.calibrate_shape import shape_fit
from simulation.measured import ENDPOINT_CLASS, Histogram, ServerDelta
from simulation.scenario import Scenario

__all__ = ["Fitted", "fit", "format_fit", "overlay"]

MIN_CPU_MS = 0.05  # the schema wants cpu_ms > 0; a fit below this is measurement noise


def fit(
    delta: ServerDelta,
    scenario: Scenario,
    min_requests: int = 30,
    capacity_req_s: float | None = None,
) -> tuple[list[Fitted], list[str]]:
    """(fitted values, names of what could not be fitted and why).

    ``capacity_req_s``: the deployment's measured capacity (a ramp's), for
    ``api.handoff_ms``.
    """
    fitted, cpu_shape, db_shape = shape_fit(delta, min_requests)
    skipped: list[str] = []
    get = delta.l2.get("get")
    rtt_s = scenario.infrastructure.cache.l2_rtt_ms / 1000
    if get is not None and get.count >= min_requests:
        rtt_s = get.quantile(0.5)
        fitted.append(
            Fitted(
                "infrastructure.cache.l2_rtt_ms",
                rtt_s * 1000,
                int(get.count),
                f"median Redis GET; mean {get.mean * 1000:.2f}, p95 {get.quantile(0.95) * 1000:.2f} ms",
            )
        )
    else:
        skipped.append(f"infrastructure.cache.l2_rtt_ms (fewer than {min_requests} Redis GETs)")
    db_ms: dict[str, float] = {}
    for name in PLATFORM.queries:
        h = delta.queries.get(name)
        if h is None or h.count < min_requests:
            skipped.append(f"infrastructure.db.queries.{name} ({int(h.count) if h else 0} calls)")
            continue
        db_ms[name] = h.quantile(0.5) * 1000
        fitted.append(
            Fitted(
                f"infrastructure.db.queries.{name}.with_index_ms",
                db_ms[name] * db_shape.mean_per_median,
                int(h.count),
                f"median call {db_ms[name]:.2f} ms (the model's mean: x"
                f" {db_shape.mean_per_median:.3f}); mean {h.mean * 1000:.2f},"
                f" p95 {h.quantile(0.95) * 1000:.2f} ms",
            )
        )
    shares: dict[str, tuple[float, float, int, int, str]] = {}
    for endpoint, h in sorted(delta.routes.items()):
        name = ENDPOINT_CLASS[endpoint]
        if h.count < min_requests:
            skipped.append(f"infrastructure.request_classes.{name} ({int(h.count)} requests)")
            continue
        shares[name] = _class_times(delta, scenario, endpoint, h, db_ms, rtt_s, min_requests)
    if not shares:
        raise BadInput(
            f"measured run: no request class has {min_requests} or more requests; run longer"
            " or at a higher rate (skipped: " + "; ".join(skipped) + ")"
        )
    # The process's own CPU seconds are the truth for CPU: the classes' times are scaled
    # down to it (contention from other processes on the machine inflates time, not CPU).
    # The shares are medians; the model's fields are means of the fitted distribution.
    to_mean = cpu_shape.mean_per_median
    scale = 1.0
    counted = sum(delta_h.count for delta_h in delta.routes.values())
    if delta.cpu_s is not None and delta.cpu_s > 0:
        claimed = to_mean * sum(c * n + more * m for c, more, n, m, _ in shares.values()) / 1000
        scale = min(delta.cpu_s / claimed, 1.0) if claimed > 0 else 1.0
        fitted.append(
            Fitted(
                "measured.process_cpu_ms_per_request",
                delta.cpu_s * 1000 / max(counted, 1),
                int(counted),
                f"server process CPU {delta.cpu_s:.2f} s; class times x {scale:.3f}",
            )
        )
    unstretch = 1.0 - background_share(delta, scenario)
    handlers: dict[str, tuple[float, float, int, int]] = {}
    for name, (cpu, more, n, m, detail) in shares.items():
        cpu = max(cpu * to_mean * scale * unstretch, MIN_CPU_MS)
        more *= to_mean * scale * unstretch
        handlers[name] = (cpu, more, n, m)
        path = f"infrastructure.request_classes.{name}"
        fitted.append(Fitted(f"{path}.cpu_ms", cpu, n, detail))
        if more > 0:
            fitted.append(Fitted(f"{path}.miss_cpu_ms", more, m, "the misses' median beyond"
                                 " the hits' CPU, two round trips and the query"))  # fmt: skip
    db_means = {q: ms * db_shape.mean_per_median for q, ms in db_ms.items()}
    fitted += core_fit(delta, scenario, handlers, db_means)
    fitted = unshared(fitted, delta, shared_query_share(fitted, scenario))
    if capacity_req_s is not None:
        handoff = handoff_fit(delta, scenario, capacity_req_s)
        if handoff is None:
            skipped.append("infrastructure.api.handoff_ms: the run recorded no CPU time")
        else:
            fitted.append(handoff)
    return fitted, skipped


def _class_times(
    delta: ServerDelta,
    scenario: Scenario,
    endpoint: str,
    h: Histogram,
    db_ms: dict[str, float],
    rtt_s: float,
    min_requests: int,
) -> tuple[float, float, int, int, str]:
    """(cpu_ms, miss_cpu_ms, requests, misses, how) of one route, from medians.

    Medians, not means: the cold start of a run (every key missing at once)
    queues on the server, and the model produces that queueing itself. A
    cached read's hits are its fastest requests: their median is the route's
    ``h / 2`` quantile (``h`` the hit ratio), the misses' the ``h + (1 - h) / 2``
    quantile. A hit costs the CPU (plus a round trip when served from L2), a
    miss that CPU, the lookup and store round trips, the query and its own
    extra CPU.
    """
    name = ENDPOINT_CLASS[endpoint]
    rc = PLATFORM.request_classes[name]
    q = rc.query
    db = (db_ms[q] if q in db_ms else _default_db_ms(scenario, q)) / 1000 if q else 0.0
    n = int(h.count)
    if rc.namespace is None:
        rest = db + len(rc.invalidates) * rtt_s
        cpu = (h.quantile(0.5) - rest) * 1000
        how = f"median {h.quantile(0.5) * 1000:.2f} ms - {rest * 1000:.2f} ms ({len(rc.invalidates)} invalidations)"
        return max(cpu, MIN_CPU_MS), 0.0, n, 0, how
    seen = delta.cache.get(endpoint, {})
    hits, misses = seen.get("hit", 0.0), seen.get("miss", 0.0)
    ratio = hits / (hits + misses) if hits + misses else 0.0
    # Hits served by L2 (a namespace without L1, or an L1 miss) pay its round trip.
    l2_hits = delta.lookups.get((rc.namespace, "l2", "hit"), 0.0)
    l1_hits = delta.lookups.get((rc.namespace, "l1", "hit"), 0.0)
    via_l2 = l2_hits / (l1_hits + l2_hits) if l1_hits + l2_hits else 0.0
    miss_ms = h.quantile(ratio + (1 - ratio) / 2) * 1000
    miss_rest = (2 * rtt_s + db) * 1000
    if hits >= min_requests:
        hit_ms = h.quantile(ratio / 2) * 1000
        cpu = hit_ms - via_l2 * rtt_s * 1000
        more = max(miss_ms - cpu - miss_rest, 0.0) if misses >= min_requests else 0.0
        how = f"hits' median {hit_ms:.2f} ms, misses' {miss_ms:.2f} ms (hit ratio {ratio:.3f})"
    else:
        cpu, more = miss_ms - miss_rest, 0.0
        how = f"misses' median {miss_ms:.2f} ms - {miss_rest:.2f} ms (hit ratio {ratio:.3f})"
    return max(cpu, MIN_CPU_MS), more, n, int(misses), how


def _default_db_ms(scenario: Scenario, query: str) -> float:
    spec = scenario.infrastructure.db.queries[query]
    return spec.with_index_ms if scenario.infrastructure.db.indexed else spec.without_index_ms


def overlay(fitted: list[Fitted]) -> dict[str, Any]:
    """The scenario overlay (YAML-ready): nested mappings of the fitted paths."""
    root: dict[str, Any] = {}
    for f in fitted:
        if not f.path.startswith("infrastructure."):
            continue  # reported, not a scenario field
        *parents, leaf = f.path.split(".")
        node = root
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = f.value if isinstance(f.value, str) else round(f.value, 4)
    return root


def format_fit(fitted: list[Fitted], skipped: list[str]) -> str:
    lines = [f"{'parameter':<58}{'value':>10}{'n':>8}  data"]
    lines += [f"{f.path:<58}{_shown(f.value):>10}{f.count:>8}  {f.detail}" for f in fitted]
    lines += [f"not fitted: {s}" for s in skipped]
    return "\n".join(lines)


def _shown(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.3f}"
