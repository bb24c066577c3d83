"""Jobs created by time: each event's life (reminders, live analytics, final reports) and cron-like jobs.

These are long-lived SimPy processes -- one per event and one per timed job
source -- that wake up only when they have something to enqueue. A Poisson
source enqueues a minute of future arrivals at once (the job queues accept
arrivals in the future), so a busy source costs one SimPy event per minute.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import numpy as np
import simpy
from numpy.typing import NDArray

from perfcore.platform import PLATFORM
from simulation.scenario import EventJobsSpec, TimedJobSpec
from simulation.workload import EventLayout

Submit = Callable[[str, NDArray[np.float64]], None]  # (job type, arrival times)
JOBS = PLATFORM.lifecycle_jobs  # which job type each moment of an event's life creates
BATCH_S = 60.0  # Poisson job sources enqueue a minute of arrivals at a time


def _at(t: float, n: int = 1) -> NDArray[np.float64]:
    return np.full(n, t)


def event_life(
    env: simpy.Environment, layout: EventLayout, e: int, spec: EventJobsSpec, submit: Submit
) -> Generator[simpy.Event, None, None]:
    start, end = float(layout.start[e]), float(layout.end[e])
    remind_at = max(start - spec.reminder_lead_h * 3600.0, 0.0)
    yield env.timeout(remind_at - env.now)
    batches = math.ceil(int(layout.size[e]) / spec.attendees_per_reminder_job)
    submit(JOBS.reminder, _at(env.now, batches))
    yield env.timeout(max(start - env.now, 0.0))
    while env.now + spec.analytics_every_s <= end:
        yield env.timeout(spec.analytics_every_s)
        submit(JOBS.live_analytics, _at(env.now))
    yield env.timeout(max(end - env.now, 0.0))
    if spec.reports_at_end:
        submit(JOBS.final_report, _at(env.now, spec.reports_at_end))


def timed_jobs(
    env: simpy.Environment, spec: TimedJobSpec, rng: np.random.Generator, submit: Submit
) -> Generator[simpy.Event, None, None]:
    yield env.timeout(spec.start_s)
    while True:
        if spec.every_s is not None:
            submit(spec.job_type, _at(env.now))
            yield env.timeout(spec.every_s)
        else:
            # A Poisson process, a minute of it at a time: count, then uniform times.
            assert spec.rate_per_s is not None
            n = int(rng.poisson(spec.rate_per_s * BATCH_S))
            submit(spec.job_type, env.now + np.sort(rng.random(n)) * BATCH_S)
            yield env.timeout(BATCH_S)
