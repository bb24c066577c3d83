"""Background jobs: BullMQ-like priority queues with workers, attempts and exponential backoff.

Where a job goes is decided by :func:`perfcore.queues.routing.route_job` -- the
function the real queue manager calls -- from the scenario's ``queues``
section. Each queue is a non-preemptive priority queue with ``concurrency``
workers: a free worker takes the waiting job with the lowest BullMQ priority
number, first-in-first-out within a priority. A failed attempt (probability
``failure_p`` of its job type) comes back after ``backoff_delay * 2**(n-1)``
until ``attempts`` are used up.

The queue is simulated exactly but without a SimPy event per job: it keeps a
heap of worker free times, a heap of waiting jobs and a heap of future
arrivals (new jobs and retries), and :meth:`JobQueue.advance` plays the events
up to a time -- the SimPy clock calls it as simulated time moves on.
"""

from __future__ import annotations

import heapq
from array import array
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfcore.config import QueuesConfig
from perfcore.queues.routing import JOB_TYPES, route_job
from simulation.scenario import JobTypeSpec

_BUFFER = 1 << 15


class _Draws:
    """Exponential and uniform variates drawn from numpy in blocks (cheap one at a time)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.exp: list[float] = []
        self.uni: list[float] = []

    def refill(self) -> None:
        self.exp = self.rng.standard_exponential(_BUFFER).tolist()
        self.uni = self.rng.random(_BUFFER).tolist()


# (arrival time, sequence, priority, job type id, attempt)
_Job = tuple[float, int, int, int, int]


class JobQueue:
    """One queue with ``concurrency`` workers; jobs are ``(type id, priority)`` pairs."""

    def __init__(
        self,
        name: str,
        concurrency: int,
        service_s: list[float],
        failure_p: list[float],
        attempts: int,
        backoff_s: float,
        rng: np.random.Generator,
    ) -> None:
        self.name = name
        self.free: list[float] = [0.0] * concurrency
        self.pending: list[_Job] = []  # not yet arrived (new jobs, retries after backoff)
        self.waiting: list[tuple[int, int, float, int, int]] = []  # (prio, seq, arrival, type, n)
        self.service_s, self.failure_p = service_s, failure_p
        self.attempts, self.backoff_s = attempts, backoff_s
        self.draws = _Draws(rng)
        self.seq = 0
        self.now = 0.0
        self.jobs = 0  # distinct jobs submitted
        self.retries = 0
        self.failed = 0  # jobs that used up every attempt
        self.wait_s = array("d")  # one entry per started attempt
        self.started_at = array("d")
        self.wait_type = array("b")

    def submit(self, times: NDArray[np.float64], priority: int, type_id: int) -> None:
        """New jobs of one type arriving at ``times`` (none before the last ``advance``)."""
        seq = self.seq
        for t in times.tolist():
            heapq.heappush(self.pending, (t, seq, priority, type_id, 1))
            seq += 1
        self.jobs += seq - self.seq
        self.seq = seq

    def advance(self, until: float) -> None:
        """Play every arrival and start before ``until`` (hot: state in locals)."""
        pending, waiting, free = self.pending, self.waiting, self.free
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        service, failure, attempts, backoff = (
            self.service_s,
            self.failure_p,
            self.attempts,
            self.backoff_s,
        )
        draws = self.draws
        add_wait, add_at, add_type = (
            self.wait_s.append,
            self.started_at.append,
            self.wait_type.append,
        )
        inf = float("inf")
        while True:
            arrival = pending[0][0] if pending else inf
            f = free[0]
            if waiting and f <= arrival and f < until:
                # A worker frees before the next arrival: it takes the most urgent job.
                prio, _, at, type_id, n = pop(waiting)
                t = f
            elif arrival < until:
                at, seq, prio, type_id, n = pop(pending)
                if waiting or f > at:
                    push(waiting, (prio, seq, at, type_id, n))
                    continue
                t = at
            else:
                break
            if not draws.exp:
                draws.refill()
            end = t + service[type_id] * draws.exp.pop()
            replace(free, end)
            add_wait(t - at)
            add_at(t)
            add_type(type_id)
            if draws.uni.pop() < failure[type_id]:
                if n < attempts:
                    self.retries += 1
                    push(pending, (end + backoff * 2 ** (n - 1), self.seq, prio, type_id, n + 1))
                    self.seq += 1
                else:
                    self.failed += 1
        self.now = max(self.now, until)

    @property
    def depth(self) -> int:
        """Jobs waiting for a worker now (delayed retries excluded, as in BullMQ)."""
        return len(self.waiting)


@dataclass(frozen=True)
class Routed:
    queue: int
    priority: int


class JobTier:
    """All queues of the scenario, routed by the production routing policy."""

    def __init__(
        self,
        config: QueuesConfig,
        job_types: dict[str, JobTypeSpec],
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        names = list(job_types) + [t for t in JOB_TYPES if t not in job_types]
        self.type_names = names
        self.type_id = {name: i for i, name in enumerate(names)}
        service = [job_types[n].service_s if n in job_types else 1.0 for n in names]
        failure = [job_types[n].failure_p if n in job_types else 0.0 for n in names]
        defaults = config.job_defaults
        seeds = rng.spawn(len(config.queues))
        self.queues = [
            JobQueue(
                spec.name,
                spec.concurrency,
                service,
                failure,
                defaults.attempts,
                defaults.backoff_delay_ms / 1000.0,
                seed,
            )
            for spec, seed in zip(config.queues, seeds, strict=True)
        ]
        self.queue_index = {q.name: i for i, q in enumerate(self.queues)}

    def route(self, job_type: str) -> Routed:
        """The production routing decision for ``job_type``."""
        route = route_job(job_type, self.config)
        return Routed(self.queue_index[route.queue], route.priority)

    def submit(self, job_type: str, times: NDArray[np.float64]) -> None:
        if times.shape[0] == 0:
            return
        routed = self.route(job_type)
        self.queues[routed.queue].submit(np.sort(times), routed.priority, self.type_id[job_type])

    def advance(self, until: float) -> None:
        for queue in self.queues:
            queue.advance(until)

    @property
    def backlog(self) -> int:
        return sum(q.depth for q in self.queues)
