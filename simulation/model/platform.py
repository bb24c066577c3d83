"""The whole platform as one SimPy environment.

SimPy runs the coarse-grained processes: the traffic driver, the autoscaler
tick, pod start-ups, each event's life, timed jobs and a minute clock for the
time series. Requests are not SimPy processes: the traffic driver takes the
arrivals up to the next scheduled SimPy event (nothing can change capacity
before it) and pushes them through :class:`~simulation.model.requests.RequestPath`
in one batch, then advances the job queues to the same time. Batches are
therefore at most one autoscaler interval long, and exact with respect to every
scaling step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from simulation.budget import check_budget
from simulation.metrics import Metrics
from simulation.model.autoscaler import Autoscaler, Window
from simulation.model.cache import CacheTier
from simulation.model.cluster import Cluster
from simulation.model.jobs import JobTier
from simulation.model.lifecycle import event_life, timed_jobs
from simulation.model.pool import ServerPool
from simulation.model.requests import MISS, UNCACHED, RequestPath, Served
from simulation.scenario import REQUEST_CLASSES, Scenario
from simulation.workload import Arrivals, EventLayout, Workload, key_space_sizes

CHUNK_S = 900.0  # arrivals are generated a quarter of an hour at a time
Progress = Callable[[float], None]  # called with simulated seconds done


@dataclass(frozen=True)
class _Chunk:
    arrivals: Arrivals
    cpu: NDArray[np.float64]
    dbs: NDArray[np.float64]
    columns: list[list[Any]]  # the loop's inputs as Python lists (converted once)

    @property
    def size(self) -> int:
        return len(self.arrivals)


class Platform:
    """API replicas + cache + database + job queues + autoscaler, wired to one SimPy clock."""

    def __init__(self, scenario: Scenario, progress: Progress | None = None) -> None:
        self.scenario = scenario
        self.progress = progress
        streams = np.random.SeedSequence(scenario.seed).spawn(6)
        rng = [np.random.Generator(np.random.PCG64(s)) for s in streams]
        self.rng_service, rng_lifecycle = rng[2], rng[4]
        self.env = env = simpy.Environment()
        infra = scenario.infrastructure
        self.layout = EventLayout.draw(scenario, rng[0])
        self.workload = Workload(scenario, self.layout, rng[1])
        check_budget(scenario, self.layout, self.workload)  # before any per-key memory
        initial = infra.api.initial_replicas or scenario.scaling.min_replicas
        slots = infra.api.slots_per_replica
        self.api = ServerPool(initial * slots)
        self.cpu = ServerPool(initial * infra.api.cpus_per_replica)
        self.db = ServerPool(infra.db.connections)
        self.cache = CacheTier(
            scenario.cache, infra, key_space_sizes(scenario, self.layout), initial
        )
        self.path = RequestPath(scenario, self.api, self.cpu, self.db, self.cache)
        self.jobs = JobTier(scenario.queues, infra.job_types, rng[3])
        self.metrics = Metrics(
            scenario.horizon_s, len(REQUEST_CLASSES), [q.name for q in self.jobs.queues]
        )
        self.cluster = Cluster(env, initial, infra.api.startup_s, self._ready_changed)
        self.autoscaler = Autoscaler(
            env,
            self.cluster,
            scenario.scaling,
            cpus_per_replica=infra.api.cpus_per_replica,
            slots_per_replica=slots,
            memory_base=infra.api.memory_base,
            memory_per_busy_slot=infra.api.memory_per_busy_slot,
            take_window=self._take_window,
            backlog=lambda: self.jobs.backlog,
            # None drops the seed rule's request-rate clause, as in production.
            baseline_request_rate=scenario.scaling.baseline_request_rate,
        )
        self._window = [0.0, 0.0, 0]
        self.requests = 0
        self._pending: list[
            tuple[_Chunk, int, int, list[float], list[float], list[int], list[float]]
        ] = []
        self._recorded_until = self._served_until = 0.0
        self._minute = 0
        env.process(self._traffic())
        env.process(self._minute_clock())
        env.process(self.autoscaler.run())
        wl = scenario.workload
        for e in range(self.layout.count):
            env.process(event_life(env, self.layout, e, wl.event_jobs, self.jobs.submit))
        for spec, seed in zip(wl.timed_jobs, rng_lifecycle.spawn(len(wl.timed_jobs)), strict=True):
            env.process(timed_jobs(env, spec, seed, self.jobs.submit))

    def run(self) -> None:
        horizon = self.scenario.horizon_s
        self.env.run(until=horizon)
        # SimPy stops before the events due exactly at the horizon: close the last minute.
        self.jobs.advance(horizon)
        if self._minute < self.metrics.minutes:
            self._sample_minute()

    # ----------------------------------------------------------- processes

    def _traffic(self) -> Generator[simpy.Event, None, None]:
        env, horizon = self.env, self.scenario.horizon_s
        chunk: _Chunk | None = None
        chunk_end = 0.0
        pos = 0
        t = 0.0
        while t < horizon:
            target = min(env.peek(), horizon)
            if target <= t:  # another process acts now: let it go first
                yield env.timeout(0)
                continue
            while True:
                if (chunk is None or pos >= chunk.size) and chunk_end < target:
                    self._flush()
                    nxt = min(chunk_end + CHUNK_S, horizon)
                    chunk = self._load(chunk_end, nxt)
                    chunk_end, pos = nxt, 0
                assert chunk is not None
                stop = min(target, chunk_end)
                end = pos + int(np.searchsorted(chunk.arrivals.time[pos:], stop))
                self._serve(chunk, pos, end, stop)
                pos, t = end, stop
                if t >= target:
                    break
            if t % 60.0 == 0.0 or t >= horizon:
                self._flush()
            self.jobs.advance(t)
            if self.progress is not None:
                self.progress(t)
            yield env.timeout(t - env.now)

    def _load(self, t0: float, t1: float) -> _Chunk:
        """The arrivals of [t0, t1) with their service-time draws, as arrays and as lists."""
        a = self.workload.chunk(t0, t1)
        cpu, dbs, lb, u = self.path.draw(a.cls, self.rng_service)
        return _Chunk(
            a, cpu, dbs, [col.tolist() for col in (a.time, a.cls, a.event, a.key, cpu, dbs, lb, u)]
        )

    def _serve(self, chunk: _Chunk, lo: int, hi: int, stop: float) -> None:
        starts, ends, levels, begins = self.path.serve(*(col[lo:hi] for col in chunk.columns))
        n = hi - lo
        self.requests += n
        w = self._window
        w[0] += float(chunk.cpu[lo:hi].sum()) + n * self.path.shared_s
        w[1] += sum(ends) - sum(starts)
        w[2] += n
        if n:
            self._enqueue_jobs(chunk.arrivals.cls[lo:hi], np.array(ends))
        if self._pending and self._pending[-1][0] is not chunk:
            self._flush()
        self._pending.append((chunk, lo, hi, starts, ends, levels, begins))
        self._served_until = stop

    def _flush(self) -> None:
        """Account the served batches since the last flush (one numpy pass per minute)."""
        pending, self._pending = self._pending, []
        t0, t1 = self._recorded_until, self._served_until
        if pending:
            chunk, lo, hi = pending[0][0], pending[0][1], pending[-1][2]
            served = Served(
                np.array([x for p in pending for x in p[3]]),
                np.array([x for p in pending for x in p[4]]),
                np.array([x for p in pending for x in p[5]], dtype=np.int8),
            )
            used_db = (served.level == MISS) | (served.level == UNCACHED)
            db_busy = np.where(used_db, chunk.dbs[lo:hi], 0.0)
            a = chunk.arrivals
            cpu = chunk.cpu[lo:hi]
            if self.path.shared_s:  # the core is busy for the co-located work too
                cpu = cpu + self.path.shared_s
            self.metrics.record(t0, t1, a.time[lo:hi], a.cls[lo:hi], served, cpu, db_busy)
        elif t1 > t0:
            self.metrics.record_idle(t0, t1)
        self._recorded_until = t1

    def _enqueue_jobs(self, cls: NDArray[np.int8], end: NDArray[np.float64]) -> None:
        """Jobs requests create, at the moment the request completes."""
        draws = self.rng_service.random(cls.shape[0])
        for cls_id, jobs in enumerate(self.path.table.jobs):
            if not jobs:
                continue
            mine = cls == cls_id
            if not mine.any():
                continue
            # One uniform per request; disjoint slices of it pick at most one job
            # type when probabilities sum to <= 1, independent types otherwise.
            lo = 0.0
            for job_type, p in jobs:
                hi = lo + p
                if hi <= 1.0:
                    picked = mine & (draws >= lo) & (draws < hi)
                    lo = hi
                else:
                    picked = mine & (self.rng_service.random(cls.shape[0]) < p)
                self.jobs.submit(job_type, end[picked])

    def _minute_clock(self) -> Generator[simpy.Event, None, None]:
        while True:
            yield self.env.timeout(60.0)
            self.jobs.advance(self.env.now)
            self._sample_minute()

    def _sample_minute(self) -> None:
        depths = [q.depth for q in self.jobs.queues]
        self.metrics.sample(self._minute, self.cluster.replicas, self.cluster.ready, depths)
        self._minute += 1

    # ------------------------------------------------------------- wiring

    def _ready_changed(self, ready: int) -> None:
        api = self.scenario.infrastructure.api
        self.api.resize(ready * api.slots_per_replica, self.env.now)
        self.cpu.resize(ready * api.cpus_per_replica, self.env.now)
        self.cache.resize(ready)

    def _take_window(self) -> Window:
        cpu, busy, n = self._window
        self._window = [0.0, 0.0, 0]
        return Window(cpu, busy, int(n))
