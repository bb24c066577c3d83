"""A queue Redis must keep its jobs; workers say when jobs wait and nothing finishes."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import make_config, perfcore_argv

from perfcore.config import QueuesConfig
from perfcore.errors import ServiceUnavailable
from perfcore.queues.handlers import JobContext
from perfcore.queues.manager import QueueManager
from perfcore.queues.watchdog import BEAT_S
from perfcore.queues.worker import WorkerProcess
from perfcore.stack import start_redis

pytestmark = pytest.mark.redis


def test_the_stack_queue_redis_keeps_an_append_only_file(redis_queues_url: str) -> None:
    config = redis.Redis.from_url(redis_queues_url).config_get("append*")
    assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"


def test_queued_jobs_survive_a_restart_of_a_queue_redis(run_dir: Path, tmp_path: Path) -> None:
    server = start_redis(run_dir / "aof", maxmemory_policy="noeviction")
    try:
        config = make_config(server.url, tmp_path)

        async def add() -> list[str]:
            async with QueueManager(config) as manager:
                jobs = await manager.add_bulk([("data_backup", {"n": i}) for i in range(500)])
                return [str(job.id) for job in jobs]

        ids = asyncio.run(add())
        server.stop()  # SIGTERM: Redis flushes the append-only file on the way out
        server.start()
        counts = redis.Redis.from_url(server.url).zcard(f"{config.prefix}:low:prioritized")
        assert counts == len(ids) == 500
    finally:
        server.stop()


async def test_a_worker_refuses_a_queue_redis_without_persistence(
    run_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_redis(run_dir / "volatile", maxmemory_policy="noeviction", appendonly=False)
    try:
        config = make_config(server.url, tmp_path)
        with pytest.raises(ServiceUnavailable, match=r"appendonly no \(no persistence\)"):
            await WorkerProcess(config, ["normal"], handlers={}).start()
        cli = subprocess.run(
            perfcore_argv("worker", "--queues", "normal", "--redis", server.url),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert cli.returncode == 1 and cli.stderr.count("\n") == 1, cli.stderr
        assert "a restart loses queued jobs" in cli.stderr
        # by config: start anyway, with a loud warning
        lenient = make_config(server.url, tmp_path, require_persistence=False)
        worker = WorkerProcess(lenient, ["normal"], handlers={})
        with caplog.at_level(logging.WARNING, logger="perfcore.queues.worker"):
            await worker.start()
        await worker.stop()
        assert any("UNSAFE QUEUE REDIS" in r.getMessage() for r in caplog.records)
    finally:
        server.stop()


async def _status_until(config: QueuesConfig, check: Any, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    async with QueueManager(config) as manager:
        while True:
            status = {s.name: s for s in await manager.status()}["normal"]
            if check(status):
                return status
            assert time.monotonic() < deadline, f"status never matched: {status}"
            await asyncio.sleep(0.1)


async def test_the_watchdog_reports_waiting_jobs_that_nothing_finishes(
    qconfig: QueuesConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(qconfig.redis_url, tmp_path, stall_after_s=1.0)
    release = threading.Event()

    def stuck(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
        assert release.wait(60), "never released"
        return {}

    worker = WorkerProcess(config, ["normal"], concurrency=1, handlers={"data_export": stuck})
    await worker.start()
    try:
        async with QueueManager(config) as manager:
            await manager.add_bulk([("data_export", {}) for _ in range(3)])
        with caplog.at_level(logging.WARNING, logger="perfcore.queues.worker"):
            stalled = await _status_until(config, lambda s: s.workers_stalled == 1)
        assert stalled.stalled_s is not None and stalled.stalled_s > 1.0
        assert stalled.backlog == 2 and stalled.active == 1
        assert any("finished none for" in r.getMessage() for r in caplog.records)
        release.set()
        recovered = await _status_until(
            config, lambda s: s.completed == 3 and s.stalled_s == 0.0, timeout_s=10 + BEAT_S
        )
        assert recovered.workers_stalled == 0
    finally:
        release.set()
        await worker.stop()
    # a stopped worker withdraws its record: no live worker, no figure
    assert (await _status_until(config, lambda s: True)).stalled_s is None
