"""Scaling policies: how many replicas, given what we observe now and what we decided before.

A policy is pure and clock-injected: it reads time only from ``Observation.now``
and keeps its own short history (recent recommendations and scale events), so
the SimPy model and the production loop drive the very same objects::

    >>> from perfcore.config import ScalingConfig
    >>> policy = make_policy(ScalingConfig(policy="target-tracking", min_replicas=2))
    >>> obs = Observation(now=0.0, current_replicas=4, ready_replicas=4,
    ...                   cpu=0.9, memory=None, request_rate=None, queue_backlog=None)
    >>> policy.decide(obs).replicas  # ceil(4 * 0.9 / 0.6)
    6

Three policies:

* :class:`SeedThresholdPolicy` -- the original threshold rule (x2 above 70 % CPU
  or 80 % memory, /2 when everything is low), with integer replicas and a cooldown.
* :class:`TargetTrackingPolicy` -- Kubernetes HPA semantics (tolerance,
  scale-down stabilization, default rate limits, missing-metric and not-ready
  pod handling, the largest recommendation across metrics).
* :class:`QueueBacklogPolicy` -- KEDA-style: backlog per replica for queue
  workers, through the same HPA behaviour.

Every decision is an integer within ``[min_replicas, max_replicas]``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from perfcore.config import ScalingConfig

# Ratios such as 0.6 / 0.6 * 5 land on 5.000000000000001 in floating point; the
# HPA works in milli-units and would say 5.
_EPSILON = 1e-9


# Past this, every count is "more than any bound": capping first keeps an
# infinite ratio (a metric of 1e308) from overflowing math.ceil.
_HUGE = 1e15


def _ceil(value: float) -> int:
    return math.ceil(min(value, _HUGE) - _EPSILON)


@dataclass(frozen=True)
class Observation:
    """What the loop (or the simulation) sees at one instant.

    Utilisations are fractions 0..1 averaged over *ready* pods; ``request_rate``
    is the total req/s and ``queue_backlog`` the total waiting jobs. ``None``
    means the metric could not be read.
    """

    now: float
    current_replicas: int
    ready_replicas: int
    cpu: float | None
    memory: float | None
    request_rate: float | None
    queue_backlog: float | None


@dataclass(frozen=True)
class Decision:
    """The replica count to run, why, and the raw metric recommendation behind it."""

    replicas: int
    reason: str
    recommended: int | None = None

    def action(self, current_replicas: int) -> str:
        """``scale_up``, ``scale_down`` or ``none`` relative to ``current_replicas``."""
        if self.replicas > current_replicas:
            return "scale_up"
        if self.replicas < current_replicas:
            return "scale_down"
        return "none"


@dataclass(frozen=True)
class ScaleEvent:
    at: float
    before: int
    after: int


@dataclass
class PolicyHistory:
    """A policy's memory: recent raw recommendations and the changes it decided."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[ScaleEvent] = field(default_factory=list)

    @property
    def last_change_at(self) -> float | None:
        return self.events[-1].at if self.events else None

    def prune(self, before: float) -> None:
        """Forget anything at or before ``before``; policies only look back a window."""
        self.recommendations = [(t, r) for t, r in self.recommendations if t > before]
        # Keep the latest event regardless: the seed's cooldown needs it.
        self.events = [e for e in self.events[:-1] if e.at > before] + self.events[-1:]

    def to_json(self) -> dict[str, Any]:
        return {
            "recommendations": [[t, r] for t, r in self.recommendations],
            "events": [[e.at, e.before, e.after] for e in self.events],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyHistory:
        """Rebuild from :meth:`to_json` output (``perfcore scale decide --state``)."""
        recs = [(float(t), int(r)) for t, r in data.get("recommendations", [])]
        events = [ScaleEvent(float(t), int(b), int(a)) for t, b, a in data.get("events", [])]
        return cls(sorted(recs), sorted(events, key=lambda e: e.at))


class ScalingPolicy(ABC):
    """Base: enforces bounds and records changes; subclasses supply ``_decide``.

    The policy assumes each decision is applied (as the HPA does); the loop
    feeds back the *observed* replica count on the next call either way.
    """

    name: ClassVar[str]

    def __init__(self, config: ScalingConfig, history: PolicyHistory | None = None) -> None:
        self.config = config
        self.history = history if history is not None else PolicyHistory()

    def decide(self, obs: Observation) -> Decision:
        """One decision for ``obs``; remembers it for the next call."""
        lo, hi = self.config.min_replicas, self.config.max_replicas
        current = obs.current_replicas
        if current < lo:
            decision = Decision(lo, f"{current} replicas is below min_replicas {lo}")
        elif current > hi:
            decision = Decision(hi, f"{current} replicas is above max_replicas {hi}")
        else:
            decision = self._decide(obs)
            bounded = min(max(decision.replicas, lo), hi)
            if bounded != decision.replicas:
                decision = Decision(
                    bounded, f"{decision.reason}; clamped to [{lo}, {hi}]", decision.recommended
                )
        if decision.replicas != current:
            self.history.events.append(ScaleEvent(obs.now, current, decision.replicas))
        self.history.prune(obs.now - self._memory_s())
        return decision

    def discard_change(self, at: float) -> None:
        """Forget the change decided at ``at``: the actuator could not apply it."""
        if self.history.events and self.history.events[-1].at == at:
            self.history.events.pop()

    @abstractmethod
    def _decide(self, obs: Observation) -> Decision:
        """The policy's rule for a replica count already within bounds."""

    @abstractmethod
    def _memory_s(self) -> float:
        """How far back the policy's rule looks."""


class SeedThresholdPolicy(ScalingPolicy):
    """The seed's threshold rule, fixed: integer halving and a cooldown.

    Up (x2) when CPU > ``scale_up_cpu`` or memory > ``scale_up_memory``; down
    (/2, rounded up so it never overshoots) when CPU, memory *and* the request
    rate are all low. A missing metric never triggers a scale-down. No change is
    made within ``cooldown_s`` of the previous one: the seed re-doubled every
    tick while new pods were still starting.
    """

    name = "seed"

    def __init__(
        self,
        config: ScalingConfig,
        history: PolicyHistory | None = None,
        *,
        baseline_request_rate: float | None = None,
    ) -> None:
        super().__init__(config, history)
        self.baseline_request_rate = (
            baseline_request_rate
            if baseline_request_rate is not None
            else config.baseline_request_rate
        )

    def _memory_s(self) -> float:
        return self.config.cooldown_s

    def _decide(self, obs: Observation) -> Decision:
        c, current = self.config, obs.current_replicas
        if obs.cpu is None and obs.memory is None:
            return Decision(current, "cpu and memory missing: hold")
        target, why = current, "utilisation within thresholds"
        if (obs.cpu is not None and obs.cpu > c.scale_up_cpu) or (
            obs.memory is not None and obs.memory > c.scale_up_memory
        ):
            target, why = current * 2, f"high utilisation ({_fmt_metrics(obs)})"
        elif self._low(obs):
            target, why = _ceil(current / 2), f"low utilisation ({_fmt_metrics(obs)})"
        target = min(max(target, c.min_replicas), c.max_replicas)
        last = self.history.last_change_at
        if target != current and last is not None and obs.now - last < c.cooldown_s:
            left = c.cooldown_s - (obs.now - last)
            return Decision(current, f"{why}; in cooldown for {left:.0f}s more", target)
        return Decision(target, why, target)

    def _low(self, obs: Observation) -> bool:
        c = self.config
        if obs.cpu is None or obs.memory is None:
            return False
        if not (obs.cpu < c.scale_down_cpu and obs.memory < c.scale_down_memory):
            return False
        if self.baseline_request_rate is None:
            return True
        if obs.request_rate is None:
            return False
        return obs.request_rate < self.baseline_request_rate * c.scale_down_request_ratio


@dataclass(frozen=True)
class _Recommendation:
    replicas: int | None  # None: no metric usable, hold
    reason: str
    may_scale_down: bool  # False when a metric is missing: never scale down on partial data


class _HpaBehaviorPolicy(ScalingPolicy):
    """HPA ``behavior``: stabilization windows, then rate limits, then bounds.

    Mirrors the Kubernetes controller: the recommendation history gives a floor
    (the highest recommendation in the scale-down window) and a ceiling (the
    lowest in the scale-up window); scale events in the last period cap how far
    one period may move (up: the larger of +``scale_up_pods`` and
    +``scale_up_percent``; down: -``scale_down_percent``).
    """

    def _memory_s(self) -> float:
        c = self.config
        return max(
            c.scale_down_stabilization_s,
            c.scale_up_stabilization_s,
            c.scale_up_period_s,
            c.scale_down_period_s,
        )

    @abstractmethod
    def _recommend(self, obs: Observation) -> _Recommendation:
        """The metric-driven replica count, before behaviour."""

    def _decide(self, obs: Observation) -> Decision:
        current = obs.current_replicas
        rec = self._recommend(obs)
        if rec.replicas is None:
            return Decision(current, rec.reason)
        raw, reason = rec.replicas, rec.reason
        if raw < current and not rec.may_scale_down:
            raw, reason = current, f"{reason}; a metric is missing, so no scale-down"
        stabilized, why = self._stabilize(obs.now, current, raw)
        self.history.recommendations.append((obs.now, raw))
        limited, limit_why = self._rate_limit(obs.now, current, stabilized)
        reason = "; ".join(part for part in (reason, why, limit_why) if part)
        return Decision(limited, reason, raw)

    def _stabilize(self, now: float, current: int, raw: int) -> tuple[int, str]:
        c = self.config
        up_cut, down_cut = now - c.scale_up_stabilization_s, now - c.scale_down_stabilization_s
        up_rec = min([raw, *(r for t, r in self.history.recommendations if t > up_cut)])
        down_rec = max([raw, *(r for t, r in self.history.recommendations if t > down_cut)])
        if current < up_rec:
            return up_rec, "" if up_rec == raw else f"scale-up stabilized at {up_rec}"
        if current > down_rec:
            note = "" if down_rec == raw else f"stabilized at {down_rec}"
            return down_rec, note
        if raw < current:
            window = c.scale_down_stabilization_s
            return current, f"held: a recommendation within {window:.0f}s was {down_rec}"
        if raw > current:
            return current, f"held: scale-up stabilization ({up_rec})"
        return current, ""

    def _rate_limit(self, now: float, current: int, desired: int) -> tuple[int, str]:
        c = self.config
        events = self.history.events
        if desired > current:
            added = sum(
                e.after - e.before
                for e in events
                if e.at > now - c.scale_up_period_s and e.after > e.before
            )
            start = current - added
            limit = max(start + c.scale_up_pods, _ceil(start * (1 + c.scale_up_percent / 100)))
            if desired > limit:
                return max(limit, current), (
                    f"scale-up limited to {max(limit, current)} per {c.scale_up_period_s:.0f}s"
                )
        elif desired < current:
            removed = sum(
                e.before - e.after
                for e in events
                if e.at > now - c.scale_down_period_s and e.after < e.before
            )
            start = current + removed
            limit = int(start * (1 - c.scale_down_percent / 100) + _EPSILON)
            if desired < limit:
                return min(limit, current), (
                    f"scale-down limited to {min(limit, current)} per {c.scale_down_period_s:.0f}s"
                )
        return desired, ""


class TargetTrackingPolicy(_HpaBehaviorPolicy):
    """Kubernetes HPA target tracking: ``desired = ceil(current x metric / target)``.

    Per metric (CPU and memory utilisation, requests per ready pod; each enabled
    by a non-None target): no change while the ratio is within ``tolerance`` of 1.
    For CPU, pods that are not ready count as 0 % when scaling up (a starting pod
    would otherwise trigger a second scale-up), and are left out when scaling
    down. Several metrics: the largest recommendation wins. A missing metric
    may still scale up, never down.
    """

    name = "target-tracking"

    def _recommend(self, obs: Observation) -> _Recommendation:
        c = self.config
        metrics: list[tuple[str, float | None, float | None, bool]] = [
            ("cpu", obs.cpu, c.target_cpu, True),
            ("memory", obs.memory, c.target_memory, False),
            ("requests", _per_pod(obs.request_rate, obs.ready_replicas),
             c.target_requests_per_replica, False),
        ]  # fmt: skip
        recs: list[tuple[int, str]] = []
        missing: list[str] = []
        for name, value, target, unready_as_zero in metrics:
            if target is None:
                continue
            if value is None or obs.ready_replicas <= 0:
                missing.append(name)
                continue
            replicas = _hpa_replicas(
                value / target, obs.ready_replicas, obs.current_replicas, c.tolerance,
                unready_as_zero,
            )  # fmt: skip
            recs.append((replicas, f"{name} {value:.3g}/{target:.3g} -> {replicas}"))
        missing_note = f"missing: {', '.join(missing)}" if missing else ""
        if not recs:
            return _Recommendation(None, missing_note or "no metric configured", False)
        replicas, reason = max(recs, key=lambda item: item[0])
        if missing_note:
            reason = f"{reason} ({missing_note})"
        return _Recommendation(replicas, reason, may_scale_down=not missing)


class QueueBacklogPolicy(_HpaBehaviorPolicy):
    """KEDA-style queue scaling: ``ceil(backlog / backlog_per_replica)`` workers.

    As KEDA feeds the HPA an external ``AverageValue`` metric, the same
    tolerance, stabilization and rate limits apply; an empty queue scales down
    to ``min_replicas``. An unreadable backlog holds the current count.
    """

    name = "queue-backlog"

    def _recommend(self, obs: Observation) -> _Recommendation:
        c, current = self.config, obs.current_replicas
        if obs.queue_backlog is None:
            return _Recommendation(None, "queue backlog missing", False)
        backlog = max(obs.queue_backlog, 0.0)
        ratio = backlog / (c.backlog_per_replica * current)
        if abs(1 - ratio) <= c.tolerance:
            replicas = current
        else:
            replicas = _ceil(backlog / c.backlog_per_replica)
        return _Recommendation(
            replicas, f"backlog {backlog:.0f} at {c.backlog_per_replica:.0f}/replica -> {replicas}",
            True,
        )  # fmt: skip


def _per_pod(total: float | None, ready: int) -> float | None:
    return None if total is None or ready <= 0 else total / ready


def _hpa_replicas(
    ratio: float, ready: int, current: int, tolerance: float, unready_as_zero: bool
) -> int:
    """The HPA replica calculator for one metric, given usage/target over ready pods."""
    unready = max(current - ready, 0)
    if not (unready_as_zero and unready > 0 and ratio > 1):
        return current if abs(1 - ratio) <= tolerance else _ceil(ratio * ready)
    # Scale-up with pods still starting: count them at 0 % and re-check, so the
    # decision never flips direction or lands inside the tolerance band.
    new_ratio = ratio * ready / current
    if abs(1 - new_ratio) <= tolerance or new_ratio < 1:
        return current
    return max(_ceil(new_ratio * current), current)


def _fmt_metrics(obs: Observation) -> str:
    parts = [
        f"{name}={value:.3g}"
        for name, value in (
            ("cpu", obs.cpu),
            ("memory", obs.memory),
            ("request_rate", obs.request_rate),
        )
        if value is not None
    ]
    return ", ".join(parts) or "no metrics"


POLICIES: dict[str, type[ScalingPolicy]] = {
    cls.name: cls for cls in (SeedThresholdPolicy, TargetTrackingPolicy, QueueBacklogPolicy)
}


def make_policy(
    config: ScalingConfig,
    *,
    baseline_request_rate: float | None = None,
    history: PolicyHistory | None = None,
) -> ScalingPolicy:
    """The policy named by ``config.policy``; ``baseline_request_rate`` feeds the seed rule."""
    if config.policy == "seed":
        return SeedThresholdPolicy(config, history, baseline_request_rate=baseline_request_rate)
    return POLICIES[config.policy](config, history)


def policy_names() -> Iterable[str]:
    return POLICIES.keys()
