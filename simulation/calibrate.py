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

from dataclasses import dataclass
from typing import Any

from perfcore.errors import BadInput
from perfcore.platform import PLATFORM
from simulation.measured import ENDPOINT_CLASS, ServerDelta
from simulation.scenario import Scenario

MIN_CPU_MS = 0.05  # the schema wants cpu_ms > 0; a fit below this is measurement noise


@dataclass(frozen=True)
class Fitted:
    """One fitted value with the data behind it."""

    path: str  # dotted scenario path
    value: float
    count: int
    detail: str  # how it was derived, with the spread


def _ns_l1_miss(delta: ServerDelta, namespace: str) -> float:
    hits = delta.lookups.get((namespace, "l1", "hit"), 0.0)
    misses = delta.lookups.get((namespace, "l1", "miss"), 0.0)
    return misses / (hits + misses) if hits + misses else 1.0


def fit(
    delta: ServerDelta, scenario: Scenario, min_requests: int = 30
) -> tuple[list[Fitted], list[str]]:
    """(fitted values, names of what could not be fitted and why)."""
    fitted: list[Fitted] = []
    skipped: list[str] = []
    get = delta.l2.get("get")
    rtt: float | None = None
    if get is not None and get.count >= min_requests:
        rtt = get.mean
        fitted.append(
            Fitted(
                "infrastructure.cache.l2_rtt_ms",
                rtt * 1000,
                int(get.count),
                f"mean Redis GET, p95 {get.quantile(0.95) * 1000:.2f} ms",
            )
        )
    else:
        skipped.append(f"infrastructure.cache.l2_rtt_ms (fewer than {min_requests} Redis GETs)")
    rtt_s = rtt if rtt is not None else scenario.infrastructure.cache.l2_rtt_ms / 1000
    db_ms: dict[str, float] = {}
    for name, query in PLATFORM.queries.items():
        del query
        h = delta.queries.get(name)
        if h is None or h.count < min_requests:
            skipped.append(f"infrastructure.db.queries.{name} ({int(h.count) if h else 0} calls)")
            continue
        db_ms[name] = h.mean * 1000
        fitted.append(
            Fitted(
                f"infrastructure.db.queries.{name}.with_index_ms",
                db_ms[name],
                int(h.count),
                f"mean call, p50 {h.quantile(0.5) * 1000:.2f} p95 {h.quantile(0.95) * 1000:.2f} ms",
            )
        )
    shares: dict[str, tuple[float, int, str]] = {}
    for endpoint, h in sorted(delta.routes.items()):
        name = ENDPOINT_CLASS[endpoint]
        rc = PLATFORM.request_classes[name]
        if h.count < min_requests:
            skipped.append(f"infrastructure.request_classes.{name} ({int(h.count)} requests)")
            continue
        q = rc.query
        db_s = (db_ms[q] if q in db_ms else _default_db_ms(scenario, q)) / 1000 if q else 0.0
        if rc.namespace is not None:
            seen = delta.cache.get(endpoint, {})
            reads = seen.get("hit", 0.0) + seen.get("miss", 0.0)
            p_miss = seen.get("miss", 0.0) / reads if reads else 1.0
            rest = _ns_l1_miss(delta, rc.namespace) * rtt_s + p_miss * (db_s + rtt_s)
            how = f"miss ratio {p_miss:.3f}"
        else:
            rest = db_s + len(rc.invalidates) * rtt_s
            how = f"{len(rc.invalidates)} invalidations"
        own_ms = max((h.mean - rest) * 1000, MIN_CPU_MS)
        detail = (
            f"route mean {h.mean * 1000:.2f} ms - {rest * 1000:.2f} ms ({how});"
            f" p95 {h.quantile(0.95) * 1000:.2f} ms"
        )
        shares[name] = (own_ms, int(h.count), detail)
    if not shares:
        raise BadInput(
            f"measured run: no request class has {min_requests} or more requests; run longer"
            " or at a higher rate (skipped: " + "; ".join(skipped) + ")"
        )
    # The process's own CPU seconds are the truth for CPU: share them out over the classes
    # in proportion to their non-waiting time (latency contention from other processes on
    # the machine inflates that time, not the CPU the server used).
    scale = 1.0
    if delta.cpu_s is not None and delta.cpu_s > 0:
        counted = sum(delta_h.count for delta_h in delta.routes.values())
        claimed = sum(ms * n for ms, n, _ in shares.values()) / 1000
        scale = min(delta.cpu_s / claimed, 1.0) if claimed > 0 else 1.0
        fitted.append(
            Fitted(
                "measured.process_cpu_ms_per_request",
                delta.cpu_s * 1000 / max(counted, 1),
                int(counted),
                f"server process CPU {delta.cpu_s:.2f} s; class times x {scale:.3f}",
            )
        )
    unstretch = 1.0 - _background_share(delta, scenario)
    for name, (own_ms, n, detail) in shares.items():
        fitted.append(
            Fitted(
                f"infrastructure.request_classes.{name}.cpu_ms",
                max(own_ms * scale * unstretch, MIN_CPU_MS),
                n,
                detail,
            )
        )
    fitted += _shared_core(
        delta, scenario, {k: (ms * scale, n) for k, (ms, n, _) in shares.items()}
    )
    return fitted, skipped


def _pinned_with_server(delta: ServerDelta, scenario: Scenario) -> bool:
    """Every stack process ran on the server processes' own CPUs (``stack_cpu.json``)."""
    api = scenario.infrastructure.api
    return bool(delta.stack_cpu_s) and delta.stack_cpus == scenario.service.workers * (
        api.cpus_per_replica
    )


def _background_share(delta: ServerDelta, scenario: Scenario) -> float:
    """The share of a core the pinned stack used with no traffic (0 when not pinned or unknown)."""
    if not _pinned_with_server(delta, scenario) or delta.stack_idle_share is None:
        return 0.0
    return min(delta.stack_idle_share / max(delta.stack_cpus or 1, 1), 0.5)


def _shared_core(
    delta: ServerDelta, scenario: Scenario, handlers: dict[str, tuple[float, int]]
) -> list[Fitted]:
    """``api.background_core`` and ``api.shared_core_ms``: the stack's CPU on the server's core.

    Only when every process of the stack was pinned to the server's own CPUs:
    then the database, the Redis servers, the job worker and the server's
    work outside its handlers (protocol, driver) take turns on the same core.
    What they use with no traffic (the idle spell before the run) is
    background, a share of the core's time; what they use beyond that and
    beyond the handlers' CPU, per request, is the shared work. ``handlers``
    are the fitted class CPU times (ms, requests), before the background's
    stretch is taken out of them.
    """
    counted = sum(h.count for h in delta.routes.values())
    if not _pinned_with_server(delta, scenario) or counted <= 0 or not delta.stack_cpu_s:
        return []
    infra = scenario.infrastructure
    cores = delta.stack_cpus or 1
    share = _background_share(delta, scenario)
    out: list[Fitted] = []
    if delta.stack_idle_share is not None:
        out.append(
            Fitted(
                "infrastructure.api.background_core",
                share,
                int(counted),
                f"stack CPU with no traffic: {delta.stack_idle_share:.4f} s/s on {cores} core(s)",
            )
        )
    background_s = share * cores * (delta.stack_wall_s or 0.0)
    auth = {n: infra.api.auth_ms if PLATFORM.request_classes[n].auth != "public" else 0.0
            for n in handlers}  # fmt: skip
    in_handlers = sum((ms * (1 - share) + auth[c]) * n for c, (ms, n) in handlers.items()) / 1000
    total = sum(delta.stack_cpu_s.values())
    value = max(total - background_s - in_handlers, 0.0) * 1000 / counted
    parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(delta.stack_cpu_s.items()))
    out.append(
        Fitted(
            "infrastructure.api.shared_core_ms",
            value,
            int(counted),
            f"stack CPU {total:.2f} s on {cores} core(s) ({parts}) - background"
            f" {background_s:.2f} s - handlers {in_handlers:.2f} s",
        )
    )
    return out


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
        node[leaf] = round(f.value, 4)
    return root


def format_fit(fitted: list[Fitted], skipped: list[str]) -> str:
    lines = [f"{'parameter':<58}{'value':>10}{'n':>8}  data"]
    lines += [f"{f.path:<58}{f.value:>10.3f}{f.count:>8}  {f.detail}" for f in fitted]
    lines += [f"not fitted: {s}" for s in skipped]
    return "\n".join(lines)
