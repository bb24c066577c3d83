"""The stall watchdog: how long a queue has had waiting jobs while a worker finished none.

Each perfcore worker keeps, per queue it serves, a :class:`Progress` record:
when it last finished a job (completed or failed) and when it last saw the
queue's backlog empty.  While jobs wait, ``stalled_s`` is the time since the
later of the two (and of the worker's start): it grows only when there is work
and none gets done.  The worker publishes the record every few seconds as a
field of the hash ``<prefix>:<queue>:perfcore:progress`` (same hash slot as the
queue's keys, so it works on Redis Cluster) and logs a warning once
``stalled_s`` passes ``queues.stall_after_s``; ``perfcore queues status``
reads the hash and reports, per queue, the smallest ``stalled_s`` of the live
workers (a queue progresses when any of its workers does).

A record older than :data:`LIVE_S` belongs to a worker that died; it is ignored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

BEAT_S = 2.0
LIVE_S = 5 * BEAT_S


def progress_key(prefix: str, queue: str) -> str:
    return f"{prefix}:{queue}:perfcore:progress"


@dataclass
class Progress:
    """One worker's progress on one queue (times are epoch seconds)."""

    started: float
    last_finished: float | None = None
    last_empty: float | None = None
    finished: int = 0
    backlog: int = 0
    beat: float = field(default=0.0)

    def finish(self, now: float) -> None:
        self.finished += 1
        self.last_finished = now

    def observe(self, backlog: int, now: float) -> None:
        self.backlog = backlog
        self.beat = now
        if backlog == 0:
            self.last_empty = now

    def stalled_s(self, now: float) -> float:
        """Seconds with jobs waiting and nothing finished; 0 when the backlog is empty."""
        if self.backlog == 0:
            return 0.0
        since = max(self.started, self.last_finished or 0.0, self.last_empty or 0.0)
        return max(0.0, now - since)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Progress | None:
        """Parse a published record; None for anything malformed (never trust Redis content)."""
        try:
            data = json.loads(text)
            return cls(
                started=float(data["started"]),
                last_finished=_optional_float(data.get("last_finished")),
                last_empty=_optional_float(data.get("last_empty")),
                finished=int(data.get("finished", 0)),
                backlog=int(data.get("backlog", 0)),
                beat=float(data["beat"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class QueueProgress:
    """What ``queues status`` reports about progress on one queue."""

    stalled_s: float | None  # None: no live perfcore worker publishes progress
    workers_stalled: int

    def to_dict(self) -> dict[str, Any]:
        stalled = None if self.stalled_s is None else round(self.stalled_s, 1)
        return {"stalled_s": stalled, "workers_stalled": self.workers_stalled}


def summarise(records: dict[str, str], now: float, stall_after_s: float) -> QueueProgress:
    """Live workers' records of one queue -> the queue's stall figures."""
    live = [
        progress
        for text in records.values()
        if (progress := Progress.from_json(text)) is not None and now - progress.beat <= LIVE_S
    ]
    if not live:
        return QueueProgress(stalled_s=None, workers_stalled=0)
    stalls = [progress.stalled_s(now) for progress in live]
    return QueueProgress(
        stalled_s=min(stalls), workers_stalled=sum(s > stall_after_s for s in stalls)
    )
