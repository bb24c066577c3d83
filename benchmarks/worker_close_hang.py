"""Reproducer: an idle ``bullmq.Worker`` whose close() hangs after all its jobs completed.

Each round adds 1,000 prioritised jobs (as perfcore's producer does), lets a raw
``bullmq.Worker`` (library defaults, concurrency 10, the handler in a thread
pool, as the benchmark's baseline) process them all, then closes it.  Now and then ``close()``
does not return: the idle worker's blocking fetch (``BZPOPMIN``) ignores its
cancellation (redis-py retries it) and ``close()`` waits for it.  A round whose
close has not returned after ``drainDelay + 1`` s is a hang; the script then
force-closes the worker (the workaround in :mod:`perfcore.queues.shutdown`) and
says how long that took.

    .venv/bin/python benchmarks/worker_close_hang.py redis://127.0.0.1:6380/0 --rounds 100

Prints one line per hang and a summary: rounds, hangs, longest wait.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bullmq import Job, Queue, Worker

JOBS = 1000
DRAIN_DELAY_S = 5  # bullmq's default


async def one_round(url: str, prefix: str) -> tuple[bool, float]:
    """(hung, seconds until the worker was closed, forced or not)."""
    queue = Queue("normal", {"connection": url, "prefix": prefix})
    opts = {"priority": 3, "attempts": 3, "removeOnComplete": 100, "removeOnFail": 50}
    await queue.addBulk(
        [{"name": "echo", "data": {"n": i}, "opts": {**opts, "jobId": str(uuid.uuid4())}}
         for i in range(JOBS)]
    )  # fmt: skip
    await queue.close()
    threads = ThreadPoolExecutor(max_workers=10)
    completed = 0

    async def process(job: Job, token: str) -> Any:
        return await asyncio.get_running_loop().run_in_executor(threads, dict, job.data)

    def on_completed(job: Job, result: Any) -> None:
        nonlocal completed
        completed += 1

    worker = Worker("normal", process, {"connection": url, "prefix": prefix, "concurrency": 10})
    worker.on("completed", on_completed)
    deadline = time.monotonic() + 120
    while completed < JOBS:
        assert time.monotonic() < deadline, f"only {completed} of {JOBS} jobs completed"
        await asyncio.sleep(0.005)
    start = time.monotonic()
    closing = asyncio.ensure_future(worker.close())
    try:
        await asyncio.wait_for(asyncio.shield(closing), DRAIN_DELAY_S + 1)
        return False, time.monotonic() - start
    except TimeoutError:
        await worker.close(force=True)  # closes the connection under the stuck fetch
        await closing
        return True, time.monotonic() - start
    finally:
        threads.shutdown()


async def main(url: str, rounds: int) -> None:
    prefix = f"hang{uuid.uuid4().hex[:8]}"
    hangs = 0
    longest = 0.0
    for i in range(rounds):
        hung, seconds = await one_round(url, prefix)
        longest = max(longest, seconds)
        if hung:
            hangs += 1
            print(
                f"round {i}: close() hung with no job running; forced close after {seconds:.1f} s"
            )
    print(f"rounds={rounds} hangs={hangs} longest_close_s={longest:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("redis_url")
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.redis_url, args.rounds))
