"""What a queue looks like right now: job counts per state and connected workers.

The seed fetched every waiting/active/completed/failed *job* to count them;
BullMQ's ``getCounts`` script counts them in Redis in one round trip, and the
state list includes ``delayed`` (retries in back-off) and ``prioritized``
(where BullMQ keeps every job that has a priority, i.e. all of perfcore's).
``stalled_s`` comes from the workers' watchdog (:mod:`perfcore.queues.watchdog`):
seconds with jobs waiting and no job finished, ``None`` without a live
perfcore worker.
"""

from __future__ import annotations

import base64
import time
from dataclasses import asdict, dataclass
from typing import Any

from perfcore.queues.watchdog import progress_key, summarise

STATES = ("waiting", "active", "delayed", "prioritized", "completed", "failed")


@dataclass(frozen=True)
class QueueStatus:
    """Counts for one queue at one moment."""

    name: str
    waiting: int
    active: int
    delayed: int
    prioritized: int
    completed: int
    failed: int
    workers: int
    stalled_s: float | None = None
    workers_stalled: int = 0

    @property
    def backlog(self) -> int:
        """Jobs not yet started: what an autoscaler scales on."""
        return self.waiting + self.prioritized + self.delayed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "backlog": self.backlog}


def worker_names(prefix: str, queue: str) -> tuple[str, ...]:
    """Client names a worker of ``queue`` may carry.

    Python bullmq names connections ``<prefix>:<queue>``, Node BullMQ
    ``<prefix>:<base64(queue)>``; a named worker appends ``:w:<name>``.
    """
    encoded = base64.b64encode(queue.encode()).decode()
    return (f"{prefix}:{queue}", f"{prefix}:{encoded}")


def count_workers(client_names: list[str], prefix: str, queue: str) -> int:
    """Workers among the server's connections (from ``CLIENT LIST``).

    A Python worker names two connections (commands and blocking wait) and a
    Node worker one, so named workers count once per distinct name; unnamed
    ones count once per connection.
    """
    named: set[str] = set()
    unnamed = 0
    for base in worker_names(prefix, queue):
        for name in client_names:
            if name == base:
                unnamed += 1
            elif name.startswith(base + ":w:"):
                named.add(name)
    return len(named) + unnamed


def client_names(reply: Any) -> list[str]:
    """Connection names from a ``CLIENT LIST`` reply (raw text, or redis-py's parsed dicts)."""
    if isinstance(reply, bytes):
        reply = reply.decode()
    if isinstance(reply, str):
        return [
            field.removeprefix("name=")
            for line in reply.splitlines()
            for field in line.split(" ")
            if field.startswith("name=")
        ]
    return [str(client.get("name") or "") for client in reply]


async def read_status(queue: Any, stall_after_s: float = 60.0) -> QueueStatus:
    """Counts, worker count and watchdog figures of one ``bullmq.Queue``."""
    counts = await queue.getJobCounts(*STATES)
    names = [name for reply in await queue.backend.getClientList() for name in client_names(reply)]
    records = await queue.client.hgetall(progress_key(queue.prefix, queue.name))
    progress = summarise({str(k): str(v) for k, v in records.items()}, time.time(), stall_after_s)
    return QueueStatus(
        name=queue.name,
        workers=count_workers(names, queue.prefix, queue.name),
        stalled_s=progress.stalled_s,
        workers_stalled=progress.workers_stalled,
        **{s: int(counts.get(s, 0)) for s in STATES},
    )


def format_table(statuses: list[QueueStatus]) -> str:
    """A fixed-width table for humans (``--json`` prints :meth:`QueueStatus.to_dict`)."""
    columns = ("queue", *STATES, "workers", "stalled_s")
    rows = [columns] + [
        (
            s.name,
            *(str(getattr(s, state)) for state in STATES),
            str(s.workers),
            "-" if s.stalled_s is None else f"{s.stalled_s:.0f}",
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
