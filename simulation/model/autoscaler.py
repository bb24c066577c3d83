"""The autoscaler as a SimPy process: every ``scaling.interval_s`` it asks perfcore's policy.

The policy object is the production one (:func:`perfcore.scaling.policies.make_policy`);
this process only builds its :class:`~perfcore.scaling.policies.Observation`
from the model's measurements over the last interval and applies the decision
through the cluster (:class:`simulation.model.cluster.Cluster`), where new pods
become ready after their start-up delay.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy

from perfcore.config import ScalingConfig
from perfcore.scaling.policies import Observation, make_policy
from simulation.model.cluster import Cluster


@dataclass(frozen=True)
class Window:
    """What the API tier did since the last tick (sums over the interval)."""

    cpu_s: float
    slot_busy_s: float
    requests: int


@dataclass(frozen=True)
class ScalingRecord:
    at: float
    before: int
    after: int
    reason: str


class Autoscaler:
    """Ticks, observes, decides (production policy), scales."""

    def __init__(
        self,
        env: simpy.Environment,
        cluster: Cluster,
        config: ScalingConfig,
        *,
        cpus_per_replica: int,
        slots_per_replica: int,
        memory_base: float,
        memory_per_busy_slot: float,
        take_window: Callable[[], Window],
        backlog: Callable[[], int],
        baseline_request_rate: float | None,
    ) -> None:
        self.env, self.cluster, self.config = env, cluster, config
        self.policy = make_policy(config, baseline_request_rate=baseline_request_rate)
        self.cpus, self.slots = cpus_per_replica, slots_per_replica
        self.memory_base, self.memory_per_busy_slot = memory_base, memory_per_busy_slot
        self.take_window, self.backlog = take_window, backlog
        self.actions: list[ScalingRecord] = []

    def observe(self) -> Observation:
        interval = self.config.interval_s
        w = self.take_window()
        ready = self.cluster.ready
        capacity = max(ready, 1) * interval
        # CPU time is counted when requests arrive, so an overloaded interval can
        # show more than its capacity; the pods cannot use more than they have.
        cpu = min(w.cpu_s / (capacity * self.cpus), 1.0)
        busy_slots = w.slot_busy_s / capacity
        memory = min(self.memory_base + self.memory_per_busy_slot * busy_slots, 1.0)
        return Observation(
            now=self.env.now,
            current_replicas=self.cluster.replicas,
            ready_replicas=ready,
            cpu=cpu,
            memory=memory,
            request_rate=w.requests / interval,
            queue_backlog=float(self.backlog()),
        )

    def run(self) -> Generator[simpy.Event, None, None]:
        while True:
            yield self.env.timeout(self.config.interval_s)
            obs = self.observe()
            decision = self.policy.decide(obs)
            if decision.replicas != self.cluster.replicas:
                before = self.cluster.replicas
                self.cluster.scale_to(decision.replicas)
                self.actions.append(
                    ScalingRecord(self.env.now, before, decision.replicas, decision.reason)
                )
