"""Routing policy: a job type decides its queue and its BullMQ priority.

This is pure policy, shared by production (:class:`perfcore.queues.manager.QueueManager`)
and the simulation, so both put the same job in the same place.

The seed scored urgency as 10/5/3/1 (higher = more urgent) and then ignored
the job type when choosing the queue.  BullMQ runs *lower* priorities first and
treats 0 as "no priority" (ahead of every prioritised job), so the seed's
numbers are translated, not copied: 1 is the most urgent, and every route has a
priority of at least 1.  The queue, too, follows the job type.

    >>> from perfcore.config import QueuesConfig
    >>> route_job("emergency_alert", QueuesConfig())
    Route(queue='critical', priority=1)
    >>> route_job("something_new", QueuesConfig())
    Route(queue='normal', priority=3)
"""

from __future__ import annotations

from dataclasses import dataclass

from perfcore.config import QueuesConfig
from perfcore.platform import PLATFORM

# The platform's job types (the seed's ten), in the description's order.
JOB_TYPES: tuple[str, ...] = tuple(PLATFORM.job_types)


@dataclass(frozen=True)
class Route:
    """A queue name and a BullMQ priority (1 = most urgent; never 0)."""

    queue: str
    priority: int


def route_job(job_type: str, config: QueuesConfig) -> Route:
    """The queue and priority for ``job_type``; unlisted types take ``default_route``."""
    spec = config.routes.get(job_type, config.default_route)
    return Route(queue=spec.queue, priority=spec.priority)


def routes_for(config: QueuesConfig, job_types: tuple[str, ...] = JOB_TYPES) -> dict[str, Route]:
    """Every job type's route, for reports and for the simulation's workload."""
    return {job_type: route_job(job_type, config) for job_type in job_types}
