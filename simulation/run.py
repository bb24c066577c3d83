"""Run a scenario: build the platform, play the horizon, summarise the measurements.

:func:`simulate` returns a :class:`RunResult` holding the contract summary
(``perfcore simulate --json``), the per-minute time series and the raw
measurements tests check against theory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulation.metrics import Metrics
from simulation.model.platform import Platform, Progress
from simulation.scenario import REQUEST_CLASSES, Scenario


@dataclass
class RunResult:
    scenario: Scenario
    platform: Platform
    wall_seconds: float

    @property
    def metrics(self) -> Metrics:
        return self.platform.metrics

    def summary(self) -> dict[str, Any]:
        """The ``perfcore simulate --json`` object (DESIGN.md contract, plus extras)."""
        p, m, sc = self.platform, self.metrics, self.scenario
        requests = p.requests
        pod_hours = p.cluster.finish()
        p95_minute = m.p95_per_minute()
        busy = m.arrivals.sum(axis=1) > 0
        violations = int(np.sum(busy & (p95_minute > sc.slo.p95_ms)))
        queues: dict[str, Any] = {}
        for q in p.jobs.queues:
            waits = np.frombuffer(q.wait_s, dtype=np.float64) if len(q.wait_s) else np.zeros(0)
            queues[q.name] = {
                "jobs": q.jobs,
                "attempts": int(waits.shape[0]),
                "retries": q.retries,
                "failed": q.failed,
                "wait_mean_s": _num(float(waits.mean())) if waits.size else 0.0,
                "wait_p95_s": _num(float(np.percentile(waits, 95))) if waits.size else 0.0,
                "max_depth": int(m.queue_depth[:, p.jobs.queue_index[q.name]].max(initial=0)),
                "waiting_at_end": q.depth,
            }
        tot = m.totals
        n = int(tot.count.sum())
        db_capacity = sc.infrastructure.db.connections * sc.horizon_s
        return {
            "requests": requests,
            "sim_seconds": sc.horizon_s,
            "wall_seconds": round(self.wall_seconds, 3),
            "requests_per_wall_second": round(requests / max(self.wall_seconds, 1e-9), 1),
            "latency_ms": {k: _num(v) for k, v in m.latency_ms().items()},
            "cache": {k: round(v, 6) for k, v in m.hit_ratios().items()},
            "replicas": {
                "max": p.cluster.max_replicas,
                "pod_hours": round(pod_hours, 3),
                "scaling_actions": len(p.autoscaler.actions),
                "policy": sc.scaling.policy,
            },
            "slo": {
                "p95_ms": sc.slo.p95_ms,
                "violation_minutes": float(violations),
            },
            "queues": queues,
            "cost": {
                "pod_hours_usd": round(pod_hours * sc.infrastructure.api.cost_per_pod_hour, 2)
            },
            "db": {"utilisation": round(float(m.db_busy_s.sum()) / db_capacity, 6)},
            "api": {
                "mean_wait_ms": _num(1000 * float(tot.wait_sum.sum()) / n) if n else 0.0,
                "mean_latency_ms": _num(1000 * float(tot.sojourn_sum.sum()) / n) if n else 0.0,
                "mean_in_system": _num(tot.in_system_sum / max(tot.in_system_samples, 1)),
            },
            "staleness": _staleness(p, tot.count),
            "requests_by_class": {
                name: int(tot.count[i]) for i, name in enumerate(REQUEST_CLASSES) if tot.count[i]
            },
            "latency_by_class_ms": {
                name: {k: _num(v) for k, v in row.items()}
                for name, row in m.by_class(REQUEST_CLASSES).items()
            },
            "seed": sc.seed,
        }


def _staleness(p: Platform, count: Any) -> dict[str, Any]:
    """Cached reads served out of date (a write they missed), from the request path's counters."""
    path = p.path
    cached = [i for i, off in enumerate(path.table.offset) if off >= 0]
    reads = int(sum(int(count[i]) for i in cached))
    stale = sum(path.stale_reads[i] for i in cached)
    seconds = sum(path.stale_s[i] for i in cached)
    return {
        "stale_read_share": round(stale / reads, 6) if reads else 0.0,
        "mean_stale_s": round(seconds / reads, 4) if reads else 0.0,
        "by_class_s": {
            REQUEST_CLASSES[i]: round(path.stale_s[i] / max(path.stale_reads[i], 1), 3)
            for i in cached
            if path.stale_reads[i]
        },
    }


def _num(x: float) -> float:
    """JSON-safe rounding (NaN becomes 0.0: no requests measured)."""
    return 0.0 if math.isnan(x) else round(x, 4)


def simulate(scenario: Scenario, progress: Progress | None = None) -> RunResult:
    started = time.perf_counter()
    platform = Platform(scenario, progress)
    platform.run()
    return RunResult(scenario, platform, time.perf_counter() - started)
