"""Jobs the API enqueues: the platform description says which, this module sends them.

With a queue Redis configured, jobs go through :class:`QueueManager`, so the
routing policy picks queue and priority and any ``perfcore worker`` (or the
platform's Node workers) runs them. Without one, the same handler from
:mod:`perfcore.queues.handlers` runs in a background thread of this process:
a quick local run still produces the export or the outbox row, it just has no
queue in front.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from perfcore.platform import PLATFORM
from perfcore.queues.handlers import JobContext, handler_for
from perfcore.queues.manager import QueueManager

log = logging.getLogger("perfcore.service")


def job_data(
    job_type: str, event_id: int, *, recipient: str = "", subject: str = "", table: str = ""
) -> dict[str, Any]:
    """The handler input for one job about one event, by the kind of work the type is."""
    kind = PLATFORM.job_types[job_type].handler
    if kind == "notification":
        return {"recipient": recipient, "subject": subject, "body": f"event {event_id}"}
    if kind == "export":
        return {"table": table or "registrations", "event_id": event_id}
    return {"event_ids": [event_id]}


class JobSink(Protocol):
    async def submit(self, job_type: str, data: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class QueueJobs:
    """Adds jobs to the BullMQ priority queues."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    async def submit(self, job_type: str, data: dict[str, Any]) -> dict[str, Any]:
        job = await self.manager.add(job_type, data)
        route = self.manager.route(job_type)
        return {"job_id": str(job.id), "job_type": job_type, "queue": route.queue, "mode": "queued"}

    async def close(self) -> None:
        await self.manager.close()


class InlineJobs:
    """Runs the job's handler in a thread after answering; for runs without a queue Redis."""

    def __init__(self, engine: Engine, export_dir: Path) -> None:
        self.engine = engine
        self.export_dir = export_dir
        self._running: set[asyncio.Task[Any]] = set()

    async def submit(self, job_type: str, data: dict[str, Any]) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        ctx = JobContext(self.engine, self.export_dir, f"inline-{job_id}")
        task = asyncio.create_task(asyncio.to_thread(handler_for(job_type), ctx, data))
        self._running.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._finished)
        return {"job_id": job_id, "job_type": job_type, "queue": None, "mode": "inline"}

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("inline job failed: %r", task.exception())

    async def close(self) -> None:
        # Let started jobs finish writing (a thread cannot be cancelled anyway).
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
