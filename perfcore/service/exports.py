"""Export and report requests: accepted at once (202), done later by a job.

With a queue Redis configured, the job goes through :class:`QueueManager`, so
the routing policy picks its queue and priority and any ``perfcore worker``
(or the platform's Node workers) runs it.  Without one, the same handler from
:mod:`perfcore.queues.handlers` runs in a background thread of this process:
a quick local run still produces the export, it just has no queue in front.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Engine

from perfcore.queues.handlers import JobContext, handler_for
from perfcore.queues.manager import QueueManager

ExportJobType = Literal["data_export", "report_generation", "user_report"]
log = logging.getLogger("perfcore.service")


def job_data(job_type: ExportJobType, event_id: int, table: str) -> dict[str, Any]:
    """The handler input for one event's export or report."""
    if job_type == "data_export":
        return {"table": table, "event_id": event_id}
    return {"event_ids": [event_id]}


class Exporter(Protocol):
    async def submit(self, job_type: ExportJobType, data: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class QueueExporter:
    """Adds jobs to the BullMQ priority queues."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    async def submit(self, job_type: ExportJobType, data: dict[str, Any]) -> dict[str, Any]:
        job = await self.manager.add(job_type, data)
        route = self.manager.route(job_type)
        return {"job_id": str(job.id), "job_type": job_type, "queue": route.queue, "mode": "queued"}

    async def close(self) -> None:
        await self.manager.close()


class InlineExporter:
    """Runs the job's handler in a thread after answering; for runs without a queue Redis."""

    def __init__(self, engine: Engine, export_dir: Path) -> None:
        self.engine = engine
        self.export_dir = export_dir
        self._running: set[asyncio.Task[Any]] = set()

    async def submit(self, job_type: ExportJobType, data: dict[str, Any]) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        ctx = JobContext(self.engine, self.export_dir, f"inline-{job_id}")
        task = asyncio.create_task(asyncio.to_thread(handler_for(job_type), ctx, data))
        self._running.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._finished)
        return {"job_id": job_id, "job_type": job_type, "queue": None, "mode": "inline"}

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("inline export failed: %r", task.exception())

    async def close(self) -> None:
        # Let started exports finish writing (a thread cannot be cancelled anyway).
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
