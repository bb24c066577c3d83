"""BullMQ queue benchmarks, as ratios against a baseline run side by side.

* enqueue: ``add_bulk`` vs one ``add`` per job (jobs/s ratio, higher is better);
* processing: a perfcore worker vs a raw ``bullmq.Worker`` at the same
  concurrency on the same jobs (throughput ratio, target >= 0.9);
* urgent wait: p95 wait of urgent jobs behind a mixed backlog in one queue, with
  perfcore's translated priorities vs the seed's numbers copied verbatim (lower
  is better: copied, "10 = urgent" runs urgent jobs *last* in BullMQ);
* idle pickup: the slowest of 15 urgent jobs added one at a time to an idle
  perfcore worker vs an idle raw ``bullmq.Worker`` with the library's default
  drainDelay (lower is better, target <= 1).

Run: ``.venv/bin/pytest benchmarks/test_queues_bench.py`` (ratios print at the end).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bullmq import Job, Worker

from perfcore.config import QueuesConfig, validate_model
from perfcore.queues.connection import parse_redis_url
from perfcore.queues.handlers import Handler, JobContext
from perfcore.queues.manager import QueueManager, job_options, queue_options
from perfcore.queues.routing import Route
from perfcore.queues.shutdown import stop_worker
from perfcore.queues.worker import WorkerProcess

pytestmark = pytest.mark.redis

T = TypeVar("T")
ENQUEUE_JOBS = 500
PROCESS_JOBS = 1000
CONCURRENCY = 10
ROUNDS = 3
THROUGHPUT_ROUNDS = 5


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def bench_config(redis_url: str, tmp_path: Path, **fields: Any) -> QueuesConfig:
    data = {
        "redis_url": redis_url,
        "prefix": f"b{uuid.uuid4().hex[:10]}",
        "database_url": f"sqlite:///{tmp_path / 'ref.sqlite'}",
        **fields,
    }
    return validate_model(QueuesConfig, data)


def echo(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    return {"n": data.get("n")}


# ------------------------------------------------------------------ enqueue


def test_enqueue_add_bulk_vs_add(
    benchmark: Any, redis_queues_url: str, tmp_path: Path, report_ratio: Callable[..., None]
) -> None:
    config = bench_config(redis_queues_url, tmp_path)
    jobs = [("data_export", {"n": i}) for i in range(ENQUEUE_JOBS)]
    single: list[float] = []
    bulk: list[float] = []

    async def one_round() -> None:
        async with QueueManager(config) as manager:
            start = time.perf_counter()
            for job_type, data in jobs:
                await manager.add(job_type, data)
            single.append(time.perf_counter() - start)
            start = time.perf_counter()
            await manager.add_bulk(jobs)
            bulk.append(time.perf_counter() - start)
            await manager.queues["normal"].obliterate(force=True)

    benchmark.pedantic(lambda: run(one_round()), rounds=ROUNDS, iterations=1)
    ratio = statistics.median(single) / statistics.median(bulk)
    report_ratio(
        "queues.enqueue add_bulk/add throughput",
        ratio,
        2.0,
        better="higher",
        detail=f"{ENQUEUE_JOBS / statistics.median(bulk):.0f} vs "
        f"{ENQUEUE_JOBS / statistics.median(single):.0f} jobs/s",
    )


# --------------------------------------------------------------- processing


async def fill(config: QueuesConfig, count: int) -> None:
    async with QueueManager(config) as manager:
        await manager.add_bulk([("data_export", {"n": i}) for i in range(count)])


async def wait_until(done: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise AssertionError("benchmark jobs did not finish in time")
        await asyncio.sleep(0.005)


async def perfcore_round(config: QueuesConfig, handlers: dict[str, Handler]) -> float:
    await fill(config, PROCESS_JOBS)
    worker = WorkerProcess(config, ["normal"], concurrency=CONCURRENCY, handlers=handlers)
    # start() checks Redis and the schema before it creates the Workers, and
    # they fetch nothing until we yield: time from here, as for the raw Worker.
    await worker.start()
    start = time.perf_counter()
    await wait_until(lambda: worker.processed >= PROCESS_JOBS)
    elapsed = time.perf_counter() - start
    await worker.stop()
    return elapsed


async def raw_round(config: QueuesConfig, handler: Handler) -> float:
    """The baseline: bullmq's Worker with the same handler run the same way (a thread per slot)."""
    await fill(config, PROCESS_JOBS)
    threads = ThreadPoolExecutor(max_workers=CONCURRENCY)
    ctx = JobContext(engine=None, export_dir=Path("."), job_key="")  # type: ignore[arg-type]
    done = 0

    async def process(job: Job, token: str) -> Any:
        return await asyncio.get_running_loop().run_in_executor(threads, handler, ctx, job.data)

    def completed(job: Job, result: Any) -> None:
        nonlocal done
        done += 1

    target = parse_redis_url(config.redis_url)
    start = time.perf_counter()
    worker = Worker(
        "normal", process, {**queue_options(target, config.prefix), "concurrency": CONCURRENCY}
    )
    worker.on("completed", completed)
    await wait_until(lambda: done >= PROCESS_JOBS)
    elapsed = time.perf_counter() - start
    # not worker.close(): it can hang on the idle fetch (benchmarks/worker_close_hang.py)
    await stop_worker(worker, timeout_s=30, idle_grace_s=6)
    threads.shutdown()
    return elapsed


def test_worker_throughput_vs_raw_bullmq(
    benchmark: Any, redis_queues_url: str, tmp_path: Path, report_ratio: Callable[..., None]
) -> None:
    config = bench_config(redis_queues_url, tmp_path)
    ours: list[float] = []
    raw: list[float] = []

    def one_round() -> None:
        # Paired rounds, so drift on a shared machine (another server's
        # background work) hits both sides of a pair alike.
        raw.append(run(raw_round(config, echo)))
        ours.append(run(perfcore_round(config, {"data_export": echo})))

    benchmark.pedantic(one_round, rounds=THROUGHPUT_ROUNDS, iterations=1)
    # our jobs/s over raw jobs/s, per pair, then the median pair
    ratio = statistics.median(r / o for r, o in zip(raw, ours, strict=True))
    report_ratio(
        "queues.worker throughput perfcore/raw bullmq",
        ratio,
        0.9,
        better="higher",
        detail=f"{PROCESS_JOBS / statistics.median(ours):.0f} vs "
        f"{PROCESS_JOBS / statistics.median(raw):.0f} jobs/s at concurrency {CONCURRENCY}",
    )


# -------------------------------------------------------------- urgent wait

BACKLOG = 300
URGENT = 10
# the seed's calculateJobPriority numbers, copied verbatim (higher meant urgent)
SEED_COPIED = {"emergency_alert": 10, "data_export": 3, "data_backup": 1}


async def urgent_wait_p95(config: QueuesConfig, priorities: dict[str, int]) -> float:
    """Backlog of default and batch jobs, then urgent ones, all in one queue: urgent p95 wait."""
    waits: dict[str, list[float]] = {}

    def timed(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
        waits.setdefault(data["kind"], []).append(time.time() - data["enqueued_at"])
        time.sleep(0.004)  # a little real work per job
        return {}

    async with QueueManager(config) as manager:
        queue = manager.queues["normal"]
        kinds = ["data_export", "data_backup"] * (BACKLOG // 2) + ["emergency_alert"] * URGENT
        await queue.addBulk(
            [
                {
                    "name": kind,
                    "data": {"kind": kind, "enqueued_at": time.time()},
                    "opts": job_options(Route("normal", priorities[kind]), config.job_defaults),
                }
                for kind in kinds
            ]
        )
    worker = WorkerProcess(
        config, ["normal"], concurrency=4, handlers=dict.fromkeys(SEED_COPIED, timed)
    )
    await worker.start()
    await wait_until(lambda: worker.processed >= len(kinds))
    await worker.stop()
    return statistics.quantiles(waits["emergency_alert"], n=20)[-1]


def test_urgent_wait_under_mixed_backlog(
    benchmark: Any, redis_queues_url: str, tmp_path: Path, report_ratio: Callable[..., None]
) -> None:
    config = bench_config(redis_queues_url, tmp_path)
    translated = {
        kind: config.routes.get(kind, config.default_route).priority for kind in SEED_COPIED
    }
    assert translated["emergency_alert"] < translated["data_export"] < translated["data_backup"]
    ours: list[float] = []
    copied: list[float] = []

    def one_round() -> None:
        ours.append(run(urgent_wait_p95(config, translated)))
        copied.append(run(urgent_wait_p95(config, SEED_COPIED)))

    benchmark.pedantic(one_round, rounds=2, iterations=1)
    ratio = statistics.median(ours) / statistics.median(copied)
    report_ratio(
        "queues.urgent p95 wait translated/seed-copied priorities",
        ratio,
        0.2,
        better="lower",
        detail=f"{statistics.median(ours) * 1000:.0f} ms vs {statistics.median(copied) * 1000:.0f} ms "
        f"behind {BACKLOG} jobs",
    )


# -------------------------------------------------------------- idle pickup

PICKUPS = 15


async def slowest_pickup(config: QueuesConfig, raw: bool) -> float:
    """Add urgent jobs one at a time, at random moments, to an idle worker: the slowest pickup."""
    import random

    picked: dict[str, float] = {}

    def mark(job_id: str) -> None:
        picked[job_id] = time.perf_counter()

    if raw:

        async def process(job: Job, token: str) -> Any:
            mark(str(job.id))

        target = parse_redis_url(config.redis_url)
        worker: Any = Worker(
            "critical", process, {**queue_options(target, config.prefix), "concurrency": 20}
        )
    else:
        worker = WorkerProcess(
            config, ["critical"], concurrency=20, handlers={"emergency_alert": echo}
        )
        await worker.start()
        for each in worker.workers:
            each.on("completed", lambda job, result: mark(str(job.id)))
    rng = random.Random(7)
    slowest = 0.0
    async with QueueManager(config) as manager:
        for _ in range(PICKUPS):
            await asyncio.sleep(rng.uniform(0.5, 6.0))  # idle long enough to be blocking
            added = time.perf_counter()
            job_id = str((await manager.add("emergency_alert", {"n": 0})).id)
            await wait_until(partial(picked.__contains__, job_id), timeout_s=30)
            slowest = max(slowest, picked[job_id] - added)
    await (stop_worker(worker, 30, 6) if raw else worker.stop())
    return slowest


def test_idle_worker_picks_up_urgent_jobs_at_once(
    benchmark: Any, redis_queues_url: str, tmp_path: Path, report_ratio: Callable[..., None]
) -> None:
    ours: list[float] = []
    raw: list[float] = []

    def one_round() -> None:
        raw.append(run(slowest_pickup(bench_config(redis_queues_url, tmp_path), raw=True)))
        ours.append(run(slowest_pickup(bench_config(redis_queues_url, tmp_path), raw=False)))

    benchmark.pedantic(one_round, rounds=1, iterations=1)
    report_ratio(
        "queues.idle urgent pickup, slowest of 15: perfcore/raw bullmq default",
        max(ours) / max(max(raw), 1e-3),
        1.0,
        better="lower",
        detail=f"{max(ours) * 1000:.0f} ms vs {max(raw) * 1000:.0f} ms",
    )
