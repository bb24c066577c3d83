"""The naive reference model: one SimPy process per request, a ``simpy.Resource`` per tier.

It plays the same workload (the same arrivals and service-time draws as
:class:`~simulation.model.platform.Platform`) the textbook way, so the
benchmark can compare simulated requests per wall second side by side. It
keeps the same tiers (API slots, CPUs, database connections as resources)
and the same cache semantics (per-replica L1, shared L2, single-flight,
invalidation on writes, the same :mod:`perfcore.cache.policy` calls) and job
queues as ``simpy.PriorityResource`` with a process per job; replicas are
fixed (``scaling.min_replicas``), so compare it on a scenario without
autoscaling. It is a baseline, not a product: slow by construction.

Why a second request path and not a call into :mod:`simulation.model.requests`:
the benchmark measures what the batched heap loop buys over the textbook
process-per-request form, so this form must stay textbook. What a request
class *does* is still read, not restated: both paths build the same
:class:`~simulation.model.requests.ClassTable` from the platform description.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from perfcore.cache.policy import l1_expiry, xfetch_should_refresh
from simulation.model.cache import CacheTier
from simulation.model.jobs import JobTier
from simulation.model.platform import CHUNK_S
from simulation.model.pool import ServerPool
from simulation.model.requests import RequestPath
from simulation.scenario import Scenario
from simulation.workload import EventLayout, Workload, key_space_sizes


@dataclass(frozen=True)
class NaiveResult:
    requests: int
    jobs: int
    wall_seconds: float
    mean_latency_s: float
    hit_ratio: float

    @property
    def requests_per_wall_second(self) -> float:
        return self.requests / max(self.wall_seconds, 1e-9)


class NaiveModel:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        streams = np.random.SeedSequence(scenario.seed).spawn(6)
        rng = [np.random.Generator(np.random.PCG64(s)) for s in streams]
        self.rng_service = rng[2]
        self.env = simpy.Environment()
        infra = scenario.infrastructure
        replicas = scenario.scaling.min_replicas
        self.layout = EventLayout.draw(scenario, rng[0])
        self.workload = Workload(scenario, self.layout, rng[1])
        self.cache = CacheTier(
            scenario.cache, infra, key_space_sizes(scenario, self.layout), replicas
        )
        # RequestPath only supplies the class table and the service-time draws here.
        self.path = RequestPath(scenario, ServerPool(1), ServerPool(1), ServerPool(1), self.cache)
        self.api = simpy.Resource(self.env, replicas * infra.api.slots_per_replica)
        self.cpu = simpy.Resource(self.env, replicas * infra.api.cpus_per_replica)
        self.db = simpy.Resource(self.env, infra.db.connections)
        tier = JobTier(scenario.queues, infra.job_types, rng[3])
        self.routes = {name: tier.route(name) for name in tier.type_names}
        self.service_s = {n: s.service_s for n, s in infra.job_types.items()}
        self.failure_p = {n: s.failure_p for n, s in infra.job_types.items()}
        self.workers = [
            simpy.PriorityResource(self.env, q.concurrency) for q in scenario.queues.queues
        ]
        self.job_rng = rng[3]
        self.latency_sum = 0.0
        self.requests = 0
        self.jobs = 0
        self.hits = self.lookups = 0
        self.inflight: dict[int, simpy.Event] = {}

    def run(self) -> NaiveResult:
        started = time.perf_counter()
        self.env.process(self._source())
        self.env.run(until=self.scenario.horizon_s)
        wall = time.perf_counter() - started
        return NaiveResult(
            self.requests,
            self.jobs,
            wall,
            self.latency_sum / max(self.requests, 1),
            self.hits / max(self.lookups, 1),
        )

    def _source(self) -> Generator[simpy.Event, None, None]:
        env, horizon = self.env, self.scenario.horizon_s
        t0 = 0.0
        while t0 < horizon:
            t1 = min(t0 + CHUNK_S, horizon)
            a = self.workload.chunk(t0, t1)
            cpu, dbs, lb, u = self.path.draw(a.cls, self.rng_service)
            for row in zip(
                a.time.tolist(),
                a.cls.tolist(),
                a.event.tolist(),
                a.key.tolist(),
                cpu.tolist(),
                dbs.tolist(),
                lb.tolist(),
                u.tolist(),
                strict=True,
            ):
                if row[0] > env.now:
                    yield env.timeout(row[0] - env.now)
                env.process(self._request(*row))
            t0 = t1

    def _request(
        self, t: float, c: int, ev: int, k: int, cp: float, ds: float, r: float, u: float
    ) -> Generator[simpy.Event, None, None]:
        env, tab, cache = self.env, self.path.table, self.cache
        l1_s, rtt = self.path.l1_s, self.path.rtt_s
        with self.api.request() as slot:
            yield slot
            with self.cpu.request() as core:
                yield core
                yield env.timeout(cp)
            off = tab.offset[c]
            if off >= 0:
                self.lookups += 1
                gk = off + k
                d = cache.l1[int(r * len(cache.l1))] if tab.use_l1[c] else None
                e = d.get(gk) if d is not None else None
                if e is not None and e[0] > env.now and e[1] >= cache.invalidated_at[gk]:
                    self.hits += 1
                    yield env.timeout(l1_s)
                else:
                    yield env.timeout(l1_s)
                    now = env.now
                    exp, flight = cache.l2_expires[gk], self.inflight.get(gk)
                    if exp > now and (
                        flight is not None
                        or not xfetch_should_refresh(now, exp, cache.fetch_s[gk], self.path.beta, u)
                    ):
                        self.hits += 1
                        if d is not None:
                            d[gk] = (
                                l1_expiry(
                                    now, exp, cache.l1_max_ttl, cache.fetch_s[gk], self.path.beta
                                ),
                                now,
                            )
                        yield env.timeout(rtt)
                    elif flight is not None:
                        yield flight  # single-flight: wait for the fetch in progress
                        yield env.timeout(rtt)
                    else:
                        flight = self.inflight[gk] = env.event()
                        yield env.timeout(rtt)
                        q = env.now
                        if ds > 0.0:
                            with self.db.request() as conn:
                                yield conn
                                yield env.timeout(ds)
                        cache.fetch_s[gk] = env.now - q
                        if self.inflight.get(gk) is flight:
                            del self.inflight[gk]
                            cache.l2_expires[gk] = env.now + tab.ttl_s[c]
                        flight.succeed()
                        if d is not None:
                            d[gk] = (
                                l1_expiry(
                                    env.now,
                                    env.now + tab.ttl_s[c],
                                    cache.l1_max_ttl,
                                    cache.fetch_s[gk],
                                    self.path.beta,
                                ),
                                env.now,
                            )
                        yield env.timeout(rtt)
            else:
                if ds > 0.0:
                    with self.db.request() as conn:
                        yield conn
                        yield env.timeout(ds)
                for inv_off, by_event in tab.invalidates[c]:
                    gk = inv_off + (ev if by_event else k)
                    cache.l2_expires[gk] = 0.0
                    self.inflight.pop(gk, None)  # the write wins over a fetch in flight
                    cache.invalidated_at[gk] = env.now
                    yield env.timeout(rtt)
        for job_type, p in tab.jobs[c]:
            if self.job_rng.random() < p:
                env.process(self._job(job_type))
        self.latency_sum += env.now - t
        self.requests += 1

    def _job(self, job_type: str) -> Generator[simpy.Event, None, None]:
        env = self.env
        route = self.routes[job_type]
        attempts = self.scenario.queues.job_defaults.attempts
        backoff = self.scenario.queues.job_defaults.backoff_delay_ms / 1000.0
        self.jobs += 1
        for attempt in range(1, attempts + 1):
            with self.workers[route.queue].request(priority=route.priority) as worker:
                yield worker
                yield env.timeout(self.job_rng.exponential(self.service_s.get(job_type, 1.0)))
            if self.job_rng.random() >= self.failure_p.get(job_type, 0.0):
                return
            if attempt < attempts:
                yield env.timeout(backoff * 2 ** (attempt - 1))
