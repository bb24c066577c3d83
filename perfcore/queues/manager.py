"""QueueManager: the producer side of the priority queues.

It owns one ``bullmq.Queue`` per configured queue and adds jobs where the
routing policy says (:func:`perfcore.queues.routing.route_job`): the job type
picks the queue *and* the priority, unlike the seed, which took the queue from
the caller and ignored the type.  Job options (attempts, exponential back-off,
retention) come from ``queues.job_defaults``.

Jobs are named by their type, which is also how the platform's TypeScript
services name them, so a Node worker and a perfcore worker read the same jobs.
Every job gets a producer-chosen id (a UUID, :mod:`perfcore.queues.ids`): the
handlers' idempotency key must never be reused, and BullMQ's own counter
starts again at 1 when a queue Redis loses its data.

    async with QueueManager(config) as manager:
        await manager.add("emergency_alert", {"recipient": "ops@x", "subject": "fire"})
        print(await manager.status())
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from bullmq import Job, Queue

from perfcore.config import ConfigError, JobDefaults, QueuesConfig
from perfcore.queues.connection import QueueRedis, bullmq_connection, verify
from perfcore.queues.ids import new_job_id
from perfcore.queues.routing import Route, route_job
from perfcore.queues.status import QueueStatus, read_status


def job_options(route: Route, defaults: JobDefaults, job_id: str | None = None) -> dict[str, Any]:
    """BullMQ options for a job on ``route``; priority is always >= 1 (0 would jump the queue).

    ``jobId`` is ``job_id`` or a fresh UUID: unique for the job's whole life.
    """
    return {
        "jobId": job_id or new_job_id(),
        "priority": route.priority,
        "attempts": defaults.attempts,
        "backoff": {"type": "exponential", "delay": defaults.backoff_delay_ms},
        "removeOnComplete": defaults.remove_on_complete,
        "removeOnFail": defaults.remove_on_fail,
    }


def queue_options(target: QueueRedis, prefix: str) -> dict[str, Any]:
    """Options shared by ``bullmq.Queue`` and ``bullmq.Worker``."""
    return {"connection": bullmq_connection(target), "prefix": prefix}


class QueueManager:
    """Adds routed jobs to the configured queues and reports their status."""

    def __init__(self, config: QueuesConfig, *, redis_url: str | None = None) -> None:
        self.config = config
        self.redis_url = redis_url or config.redis_url
        self.queues: dict[str, Queue] = {}
        self.cluster = False

    async def open(self) -> Self:
        """Check the server (noeviction, cluster hash tag), then open one Queue per config entry."""
        target = await verify(self.redis_url, self.config.prefix)
        self.cluster = target.is_cluster
        for spec in self.config.queues:
            self.queues[spec.name] = Queue(spec.name, queue_options(target, self.config.prefix))
        return self

    async def close(self) -> None:
        queues, self.queues = list(self.queues.values()), {}
        await asyncio.gather(*(queue.close() for queue in queues))

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def route(self, job_type: str, queue: str | None = None) -> Route:
        """The routing policy's answer, optionally forced onto another queue (priority kept)."""
        route = route_job(job_type, self.config)
        if queue is None:
            return route
        if queue not in self.queues:
            raise ConfigError(
                f"queue: unknown queue {queue!r}; configured: {', '.join(self.queues)}"
            )
        return Route(queue=queue, priority=route.priority)

    async def add(
        self,
        job_type: str,
        data: Mapping[str, Any],
        *,
        queue: str | None = None,
        delay_ms: int = 0,
        job_id: str | None = None,
    ) -> Job:
        """Add one job where its type routes it (or onto ``queue``, keeping its priority)."""
        route = self.route(job_type, queue)
        opts = job_options(route, self.config.job_defaults, job_id)
        if delay_ms:
            opts["delay"] = delay_ms
        return await self.queues[route.queue].add(job_type, dict(data), opts)

    async def add_bulk(self, jobs: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Job]:
        """Add many jobs, one pipelined round trip per target queue.

        On Redis Cluster redis-py refuses scripts inside a pipeline, so the jobs
        are added one by one, concurrently.
        """
        per_queue: dict[str, list[dict[str, Any]]] = {}
        for job_type, data in jobs:
            route = self.route(job_type)
            per_queue.setdefault(route.queue, []).append(
                {
                    "name": job_type,
                    "data": dict(data),
                    "opts": job_options(route, self.config.job_defaults),
                }
            )
        added: list[Job] = []
        for name, batch in per_queue.items():
            queue = self.queues[name]
            if self.cluster:
                adds = (queue.add(job["name"], job["data"], job["opts"]) for job in batch)
                added.extend(await asyncio.gather(*adds))
            else:
                added.extend(await queue.addBulk(batch))
        return added

    async def status(self) -> list[QueueStatus]:
        """Counts per state and connected workers, for every configured queue."""
        stall_after_s = self.config.stall_after_s
        statuses = (read_status(q, stall_after_s) for q in self.queues.values())
        return list(await asyncio.gather(*statuses))


async def backlog_async(config: QueuesConfig, *, redis_url: str | None = None) -> dict[str, int]:
    """Jobs not yet started (waiting + prioritized + delayed) per queue."""
    async with QueueManager(config, redis_url=redis_url) as manager:
        return {status.name: status.backlog for status in await manager.status()}


def backlog(
    redis_url: str, queues: Iterable[str] | None = None, *, config: QueuesConfig | None = None
) -> dict[str, int]:
    """Synchronous backlog per queue, for callers outside asyncio (e.g. the autoscaler).

    ``queues`` limits the result to those names (default: every configured queue).
    """
    config = config or QueuesConfig()
    result = asyncio.run(backlog_async(config, redis_url=redis_url))
    if queues is None:
        return result
    wanted = list(queues)
    unknown = [name for name in wanted if name not in result]
    if unknown:
        raise ConfigError(f"queues: unknown queue {unknown[0]!r}")
    return {name: result[name] for name in wanted}


def status_sync(config: QueuesConfig, *, redis_url: str | None = None) -> list[QueueStatus]:
    """:meth:`QueueManager.status` for synchronous callers."""

    async def run() -> list[QueueStatus]:
        async with QueueManager(config, redis_url=redis_url) as manager:
            return await manager.status()

    return asyncio.run(run())
