"""Stopping a worker: running jobs finish, a fetch that ignores its cancellation cannot hang it.

The fetch defect is a race inside bullmq/redis-py (a few rounds in a hundred),
so these tests stand in for the ``bullmq.Worker`` with a small fake that has
its shape: ``pause()``, ``close(force)``, and the set of running ``jobs``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from perfcore.queues.shutdown import LEFTOVER_GRACE_S, run_process, stop_worker


class FakeWorker:
    def __init__(self, *, fetch_hangs: bool, job_s: float | None = None) -> None:
        self.name = "normal"
        self.jobs: set[Any] = set()
        self.fetch_hangs = fetch_hangs
        self.forced: bool | None = None
        self._stuck = asyncio.Event()  # never set: the re-issued blocking command
        if job_s is not None:
            self.jobs.add("job")
            asyncio.get_running_loop().call_later(job_s, self.jobs.clear)

    async def _wait_for_fetch_and_jobs(self) -> None:
        while self.jobs:
            await asyncio.sleep(0.01)
        if self.fetch_hangs:
            await self._stuck.wait()

    async def pause(self) -> None:
        await self._wait_for_fetch_and_jobs()

    async def close(self, force: bool = False) -> None:
        if not force:
            await self._wait_for_fetch_and_jobs()
        self.forced = force


async def test_a_stuck_idle_fetch_is_force_closed_after_the_grace() -> None:
    worker = FakeWorker(fetch_hangs=True)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await stop_worker(worker, timeout_s=30, idle_grace_s=0.3) is True
    assert 0.3 <= loop.time() - start < 5 and worker.forced is True


async def test_a_running_job_finishes_before_the_close() -> None:
    worker = FakeWorker(fetch_hangs=True, job_s=0.5)
    assert await stop_worker(worker, timeout_s=30, idle_grace_s=0.2) is True
    assert worker.forced is True and not worker.jobs


async def test_a_healthy_worker_is_closed_normally() -> None:
    worker = FakeWorker(fetch_hangs=False, job_s=0.1)
    assert await stop_worker(worker, timeout_s=30, idle_grace_s=0.2) is True
    assert worker.forced is False


async def test_a_job_past_the_timeout_is_left_to_the_stalled_check() -> None:
    worker = FakeWorker(fetch_hangs=False, job_s=60)
    assert await stop_worker(worker, timeout_s=0.3, idle_grace_s=0.2) is False
    assert worker.forced is True


def test_a_process_exits_although_a_leftover_task_ignores_cancellation() -> None:
    swallowed: list[bool] = []

    async def stubborn() -> None:
        # what the stuck fetch does: catch the cancellation and carry on waiting
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(True)
            await asyncio.sleep(3600)

    async def main() -> str:
        asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        return "stopped"

    start = time.monotonic()
    assert run_process(main()) == "stopped"
    assert swallowed == [True] and time.monotonic() - start < LEFTOVER_GRACE_S + 2
