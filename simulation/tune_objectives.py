"""What a tuning trial is judged on: objectives, the scenario's constraints, and the pick rule.

Objectives (all minimised), from one simulation each, then over the seeds:

* ``cost_usd``: pod-hours x ``api.cost_per_pod_hour`` + job-worker slots
  (the queues' concurrency) x hours x ``costs.worker_slot_per_hour`` + the
  priced Redis and database hours (mean over seeds);
* ``violation_min``: SLO-violation minutes (mean over seeds);
* ``queue_excess``: the worst queue's job-wait p95 over its target
  (``slo.queue_wait_p95_s``); <= 1 meets every target (worst seed);
* ``stale_s``: seconds a cached read is out of date, per cached read (mean).

Constraints, from the scenario, on the *worst* seed: violation minutes <=
``slo.max_violation_minutes`` and every listed queue's wait p95 <= its target.

The recommendation rule (:func:`pick`): the cheapest configuration that meets
every constraint on every seed (ties: fewer violation minutes, then less
staleness); when none does, the one with the smallest total constraint excess,
flagged as not meeting them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from simulation.scenario import Scenario

K = TypeVar("K")

OBJECTIVES: tuple[str, ...] = ("cost_usd", "violation_min", "queue_excess", "stale_s")


@dataclass(frozen=True)
class Measure:
    """One simulation's figures that the tuner reads."""

    seed: int
    cost_usd: float
    pod_hours: float
    violation_min: float
    p95_ms: float
    queue_wait_p95_s: dict[str, float]
    stale_s: float
    max_replicas: int = 0

    @classmethod
    def of(cls, scenario: Scenario, summary: dict[str, Any]) -> Measure:
        infra = scenario.infrastructure
        hours = scenario.horizon_s / 3600.0
        pod_hours = float(summary["replicas"]["pod_hours"])
        slots = sum(q.concurrency for q in scenario.queues.queues)
        cost = (
            pod_hours * infra.api.cost_per_pod_hour
            + slots * hours * infra.costs.worker_slot_per_hour
            + hours * (infra.costs.redis_per_hour + infra.costs.db_per_hour)
        )
        return cls(
            seed=int(summary["seed"]),
            cost_usd=cost,
            pod_hours=pod_hours,
            violation_min=float(summary["slo"]["violation_minutes"]),
            p95_ms=float(summary["latency_ms"]["p95"]),
            queue_wait_p95_s={k: float(v["wait_p95_s"]) for k, v in summary["queues"].items()},
            stale_s=float(summary["staleness"]["mean_stale_s"]),
            max_replicas=int(summary["replicas"]["max"]),
        )


@dataclass(frozen=True)
class Evaluation:
    """A configuration measured on several seeds (common random numbers across trials)."""

    measures: list[Measure]
    targets: dict[str, float]
    max_violation_min: float
    fidelity: str = "full"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: Scenario, measures: list[Measure], fidelity: str) -> Evaluation:
        slo = scenario.slo
        return cls(measures, scenario.queue_targets, slo.max_violation_minutes, fidelity)

    def mean(self, name: str) -> float:
        return statistics.fmean(float(getattr(m, name)) for m in self.measures)

    def spread(self, name: str) -> float:
        """Sample standard deviation over the seeds (0 with one seed)."""
        xs = [float(getattr(m, name)) for m in self.measures]
        return statistics.stdev(xs) if len(xs) > 1 else 0.0

    def queue_wait(self, queue: str) -> float:
        """The worst seed's wait p95 of ``queue``."""
        return max(m.queue_wait_p95_s.get(queue, 0.0) for m in self.measures)

    @property
    def queue_excess(self) -> float:
        ratios = [self.queue_wait(q) / t for q, t in self.targets.items() if t > 0]
        return max(ratios, default=0.0)

    def objectives(self) -> list[float]:
        return [
            self.mean("cost_usd"),
            self.mean("violation_min"),
            self.queue_excess,
            self.mean("stale_s"),
        ]

    def constraints(self) -> list[float]:
        """Optuna's convention: each value <= 0 holds (worst seed against the target)."""
        worst_violation = max(m.violation_min for m in self.measures)
        found = [worst_violation - self.max_violation_min]
        found += [self.queue_wait(q) - t for q, t in self.targets.items()]
        return found

    @property
    def feasible(self) -> bool:
        return all(c <= 0 for c in self.constraints())

    @property
    def excess(self) -> float:
        """How far the constraints are missed, each relative to its target (0: all met)."""
        c = self.constraints()
        total = max(c[0], 0.0) / max(self.max_violation_min, 1.0)
        for value, target in zip(c[1:], self.targets.values(), strict=True):
            total += max(value, 0.0) / max(target, 1e-9)
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "fidelity": self.fidelity,
            "seeds": [m.seed for m in self.measures],
            "feasible": self.feasible,
            **{name: _r(v) for name, v in zip(OBJECTIVES, self.objectives(), strict=True)},
            "cost_usd_sd": _r(self.spread("cost_usd")),
            "violation_min_sd": _r(self.spread("violation_min")),
            "pod_hours": _r(self.mean("pod_hours")),
            "p95_ms": _r(self.mean("p95_ms")),
            "queue_wait_p95_s": {q: _r(self.queue_wait(q)) for q in self.targets},
        }


def _r(x: float) -> float:
    return round(x, 4) if math.isfinite(x) else x


def pick(candidates: Sequence[tuple[K, Evaluation]]) -> tuple[K, Evaluation, bool]:
    """The documented rule: cheapest meeting every constraint on every seed (see module doc)."""
    if not candidates:
        raise ValueError("no candidates to pick from")
    ok = [c for c in candidates if c[1].feasible]
    if ok:
        key, ev = min(
            ok,
            key=lambda c: (
                c[1].mean("cost_usd"),
                c[1].mean("violation_min"),
                c[1].mean("stale_s"),
            ),
        )
        return key, ev, True
    key, ev = min(candidates, key=lambda c: (c[1].excess, c[1].mean("cost_usd")))
    return key, ev, False


def pareto(points: Sequence[tuple[int, list[float]]]) -> list[int]:
    """Keys of the non-dominated points (minimising every coordinate)."""
    front = []
    for key, values in points:
        dominated = any(
            all(o <= v for o, v in zip(other, values, strict=True)) and other != values
            for _, other in points
        )
        if not dominated:
            front.append(key)
    return front
