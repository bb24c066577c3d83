"""The API deployment: requested pods, pods still starting, ready pods, and their cost.

``scale_to`` behaves like a Deployment: extra pods become ready after the
start-up delay (a SimPy process each), a scale-down cancels starting pods
first and then removes ready ones. Ready pods set the capacity of the API
slot pool and the number of L1 caches. Pod-seconds are integrated exactly over
the requested count (a starting pod costs as much as a ready one).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy


class Cluster:
    def __init__(
        self,
        env: simpy.Environment,
        initial: int,
        startup_s: float,
        on_ready_change: Callable[[int], None],
    ) -> None:
        self.env = env
        self.startup_s = startup_s
        self.on_ready_change = on_ready_change
        self.ready = initial
        self.starting: list[int] = []  # ids of pods not ready yet, oldest first
        self._next_id = 0
        self.max_replicas = initial
        self.pod_seconds = 0.0
        self._since = env.now

    @property
    def replicas(self) -> int:
        return self.ready + len(self.starting)

    def _account(self) -> None:
        now = self.env.now
        self.pod_seconds += self.replicas * (now - self._since)
        self._since = now

    def scale_to(self, replicas: int) -> None:
        self._account()
        while self.replicas < replicas:
            pod = self._next_id
            self._next_id += 1
            self.starting.append(pod)
            self.env.process(self._start(pod))
        remove = self.replicas - replicas
        while remove > 0 and self.starting:
            self.starting.pop()
            remove -= 1
        if remove > 0:
            self.ready -= remove
            self.on_ready_change(self.ready)
        self.max_replicas = max(self.max_replicas, self.replicas)

    def _start(self, pod: int) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(self.startup_s)
        if pod in self.starting:
            self._account()
            self.starting.remove(pod)
            self.ready += 1
            self.on_ready_change(self.ready)

    def finish(self) -> float:
        """Pod-hours up to now."""
        self._account()
        return self.pod_seconds / 3600.0
