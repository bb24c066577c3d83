"""Job ids and idempotency keys that stay unique for a job's whole life.

BullMQ numbers jobs from a per-queue counter in Redis (``<prefix>:<queue>:id``).
When a queue Redis loses its data the counter starts again at 1, so a key
built from that number names a *new* job after the same one as an old one:
its handler finds the old job's side effect and skips the work.

So producers choose the id: :func:`new_job_id` (a UUID4) is set as BullMQ's
``jobId``; a re-add with the same id is a no-op in BullMQ, which also makes a
retried ``add`` safe.  Node producers do the same (``jobId:
crypto.randomUUID()``).  For a job that still carries a counter id (a producer
outside this contract), :func:`job_key` adds the job's creation time in
milliseconds, which tells the lives of a reused number apart.
"""

from __future__ import annotations

import hashlib
import uuid

# notifications.job_key is VARCHAR(191): the longest indexable utf8mb4 key
KEY_LIMIT = 191


def new_job_id() -> str:
    """A producer-chosen BullMQ job id: a UUID4 (never all digits, never a ``:``)."""
    return str(uuid.uuid4())


def is_counter_id(job_id: str) -> bool:
    """True for an id BullMQ assigned from its counter (all digits)."""
    return job_id.isdigit()


def job_key(prefix: str, queue: str, job_id: str, created_ms: int | float | None) -> str:
    """The idempotency key of one job: the same on every attempt, never reused by another job."""
    key = f"{prefix}:{queue}:{job_id}"
    if is_counter_id(job_id):
        key += f"@{int(created_ms or 0)}"
    if len(key) > KEY_LIMIT:  # an over-long custom id: keep it unique, make it fit
        key = f"{prefix}:{queue}:sha256:{hashlib.sha256(job_id.encode()).hexdigest()}"
    return key
