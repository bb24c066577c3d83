"""Stopping one ``bullmq.Worker``: finish its running jobs, never hang on its idle fetch.

Two defects of the Python ``bullmq`` package (3.4) shape this:

* ``Worker.close()`` ends the run loop, whose cleanup stops lock renewal while
  jobs still run: a job longer than ``lock_duration_ms`` would lose its lock
  (and its result) during shutdown.  So the worker is paused first (that stops
  fetching and waits for running jobs with renewal alive) and closed after.
* Both ``pause()`` and ``close()`` cancel the idle worker's blocking fetch
  (``BZPOPMIN`` on the queue's marker) and then wait for it.  Now and then the
  cancellation does not take: redis-py turns it into a retryable error and
  re-issues the blocking command, and the wait lasts until that returns.
  Measured with a raw ``bullmq.Worker`` (library defaults, 1,000 prioritised
  jobs per round, ``close()`` after the last one completed, on 2 loaded
  cores): 10 hangs in 333 rounds, always with no job running; left alone, one
  ended after 205 s and two had not ended after more than 30 minutes.  A
  forced close ends it at once (it closes the connection under the fetch),
  so once no job runs and the fetch has had its normal time to end
  (``drain_delay_s`` + 1 s), the worker is force-closed.

A job a forced close might still catch starting (fetched in the same instant)
keeps its lock until ``lock_duration_ms``; then the stalled check runs it again,
and its handler's idempotency key makes that harmless.

For the same reason a worker *process* must not end with :func:`asyncio.run`,
whose clean-up waits, without a bound, for every task left to honour its
cancellation: :func:`run_process` gives leftover library tasks
``LEFTOVER_GRACE_S`` and then exits without them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
LEFTOVER_GRACE_S = 3.0

log = logging.getLogger("perfcore.queues.shutdown")

POLL_S = 0.05


async def _drain(worker: Any, deadline: float, idle_grace_s: float) -> bool:
    """Pause ``worker``; True once it paused, or ran no job for ``idle_grace_s`` (a stuck fetch)."""
    loop = asyncio.get_running_loop()
    pausing = asyncio.ensure_future(worker.pause())
    idle_since: float | None = None
    while not pausing.done():
        now = loop.time()
        if now >= deadline:
            return False
        if worker.jobs:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= idle_grace_s:
            log.info("%s: idle fetch ignored its cancellation; closing its connection", worker.name)
            return True
        await asyncio.wait({pausing}, timeout=POLL_S)
    return True


async def stop_worker(worker: Any, timeout_s: float, idle_grace_s: float) -> bool:
    """Finish running jobs (up to ``timeout_s``) and close; True if none was cut short."""
    loop = asyncio.get_running_loop()
    finished = await _drain(worker, loop.time() + timeout_s, idle_grace_s)
    if finished and not worker.jobs:
        try:
            # with nothing running, close() only has the fetch to wait for
            await asyncio.wait_for(asyncio.shield(worker.close()), idle_grace_s)
            return True
        except TimeoutError:
            pass
    forcing = asyncio.ensure_future(worker.close(force=True))
    await asyncio.wait({forcing}, timeout=idle_grace_s)  # never cancelled: it shields itself
    if not forcing.done():
        log.warning("%s: close did not end; leaving it to the process's clean-up", worker.name)
    return finished and not worker.jobs


def run_process(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` for a process's main coroutine, with a bounded clean-up."""
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(main)
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        if leftover:
            _, pending = loop.run_until_complete(asyncio.wait(leftover, timeout=LEFTOVER_GRACE_S))
            if pending:
                log.warning(
                    "%d library tasks ignored cancellation; exiting without them", len(pending)
                )
        return result
    finally:
        loop.close()
