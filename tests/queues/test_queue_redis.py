"""QueueManager and in-process workers on a real (noeviction) Redis."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bullmq import Queue
from conftest import make_config, perfcore_argv, wait_for_state

from perfcore.config import QueuesConfig
from perfcore.errors import ServiceUnavailable
from perfcore.queues.connection import parse_redis_url
from perfcore.queues.handlers import HANDLERS, Handler, JobContext
from perfcore.queues.manager import QueueManager, backlog, queue_options
from perfcore.queues.worker import WorkerProcess
from perfcore.stack import start_redis

pytestmark = pytest.mark.redis


def recorder(seen: list[str]) -> dict[str, Handler]:
    def record(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data["tag"])
        return {"tag": data["tag"]}

    return {
        name: record for name in ("emergency_alert", "data_export", "data_backup", "user_report")
    }


async def test_jobs_route_by_type_with_translated_priorities(qconfig: QueuesConfig) -> None:
    async with QueueManager(qconfig) as manager:
        alert = await manager.add("emergency_alert", {"recipient": "a", "subject": "b"})
        export = await manager.add("data_export", {})
        backup = await manager.add("data_backup", {})
        report = await manager.add("user_report", {})
        assert (alert.queue.name, alert.priority) == ("critical", 1)
        assert (report.queue.name, report.priority) == ("high", 2)
        assert (export.queue.name, export.priority) == ("normal", 3)
        assert (backup.queue.name, backup.priority) == ("low", 4)
        stored = await manager.queues["critical"].getJob(alert.id)
        assert stored.opts["attempts"] == 3 and stored.opts["backoff"] == {
            "type": "exponential",
            "delay": 50,
        }
        counts = {s.name: s.prioritized for s in await manager.status()}
        assert counts == {"critical": 1, "high": 1, "normal": 1, "low": 1}


async def test_urgent_jobs_run_first_within_a_queue(qconfig: QueuesConfig) -> None:
    seen: list[str] = []
    async with QueueManager(qconfig) as manager:
        # batch first, then default, then urgent, all forced onto one queue
        for kind in ("data_backup", "data_export", "emergency_alert"):
            for i in range(4):
                await manager.add(kind, {"tag": f"{kind}:{i}"}, queue="normal")
        worker = WorkerProcess(qconfig, ["normal"], concurrency=1, handlers=recorder(seen))
        await worker.start()
        try:
            for _ in range(200):
                if len(seen) == 12:
                    break
                await asyncio.sleep(0.05)
        finally:
            await worker.stop()
    assert [tag.split(":")[0] for tag in seen] == (
        ["emergency_alert"] * 4 + ["data_export"] * 4 + ["data_backup"] * 4
    )
    assert seen[:4] == [f"emergency_alert:{i}" for i in range(4)]  # FIFO within one priority


async def test_priority_zero_would_jump_ahead_which_is_why_routes_never_use_it(
    qconfig: QueuesConfig,
) -> None:
    seen: list[str] = []
    async with QueueManager(qconfig) as manager:
        await manager.add("emergency_alert", {"tag": "urgent"}, queue="normal")
        # a raw add without priority (the seed's 'low' queue had priority 0)
        await manager.queues["normal"].add("data_backup", {"tag": "unprioritised"}, {})
        worker = WorkerProcess(qconfig, ["normal"], concurrency=1, handlers=recorder(seen))
        await worker.start()
        try:
            while len(seen) < 2:
                await asyncio.sleep(0.05)
        finally:
            await worker.stop()
    assert seen == ["unprioritised", "urgent"]


async def test_unknown_type_fails_at_once_and_errors_are_retried(
    qconfig: QueuesConfig, tmp_path: Path
) -> None:
    calls: list[int] = []

    def flaky(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("database hiccup")
        return {"ok": True}

    async with QueueManager(qconfig) as manager:
        bogus = await manager.add("bogus_type", {})
        invalid = await manager.add("notification_sending", {"subject": "no recipient"})
        retried = await manager.add("report_generation", {})
        worker = WorkerProcess(
            qconfig, ["normal"], handlers={**HANDLERS, "report_generation": flaky}
        )
        await worker.start()
        try:
            normal = manager.queues["normal"]
            assert await wait_for_state(normal, bogus.id, {"failed", "completed"}) == "failed"
            assert await wait_for_state(normal, invalid.id, {"failed", "completed"}) == "failed"
            assert await wait_for_state(normal, retried.id, {"failed", "completed"}) == "completed"
            bogus_job = await normal.getJob(bogus.id)
            invalid_job = await normal.getJob(invalid.id)
            retried_job = await normal.getJob(retried.id)
        finally:
            await worker.stop()
    assert bogus_job.attemptsMade == 1 and "unknown job type 'bogus_type'" in bogus_job.failedReason
    assert invalid_job.attemptsMade == 1 and "recipient" in invalid_job.failedReason
    assert retried_job.attemptsMade == 3 and retried_job.returnvalue == {"ok": True}
    assert len(calls) == 3


async def test_add_bulk_status_and_backlog(qconfig: QueuesConfig) -> None:
    async with QueueManager(qconfig) as manager:
        jobs = await manager.add_bulk(
            [("emergency_alert", {"n": i}) for i in range(3)]
            + [("data_backup", {"n": i}) for i in range(5)]
        )
        delayed = await manager.add("user_report", {}, delay_ms=60_000)
        assert len(jobs) == 8 and all(job.id for job in jobs)
        by_name = {s.name: s for s in await manager.status()}
        assert by_name["critical"].prioritized == 3
        assert by_name["low"].prioritized == 5
        assert by_name["high"].delayed == 1 and delayed.id
        assert all(s.workers == 0 and s.active == 0 for s in by_name.values())
    result = await asyncio.to_thread(
        backlog, qconfig.redis_url, ["critical", "high", "low"], config=qconfig
    )
    assert result == {"critical": 3, "high": 1, "low": 5}


async def test_status_counts_connected_workers(qconfig: QueuesConfig) -> None:
    first = WorkerProcess(qconfig, ["critical", "high"], handlers={})
    second = WorkerProcess(qconfig, ["critical"], handlers={})
    await first.start()
    await second.start()
    try:
        async with QueueManager(qconfig) as manager:
            await asyncio.sleep(0.3)  # workers name their connections as they start
            workers = {s.name: s.workers for s in await manager.status()}
    finally:
        await asyncio.gather(first.stop(), second.stop())
    # both workers live in this process, so they share a name: one per queue they serve
    assert workers["critical"] >= 1 and workers["high"] == 1 and workers["low"] == 0


async def test_eviction_policy_other_than_noeviction_is_refused(
    run_dir: Path, tmp_path: Path
) -> None:
    server = start_redis(run_dir / "lru", maxmemory_policy="allkeys-lru")
    try:
        config = make_config(server.url, tmp_path)
        with pytest.raises(
            ServiceUnavailable, match="maxmemory-policy allkeys-lru; BullMQ needs noeviction"
        ):
            await QueueManager(config).open()
        with pytest.raises(ServiceUnavailable, match="noeviction"):
            await WorkerProcess(config, ["normal"]).start()
        cli = subprocess.run(
            perfcore_argv("queues", "status", "--redis", server.url, "--json"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 1 and cli.stdout == ""
        assert cli.stderr.strip().count("\n") == 0 and "maxmemory-policy allkeys-lru" in cli.stderr
        # the same policy set to noeviction is accepted
        raw = Queue("probe", queue_options(parse_redis_url(server.url), "p"))
        await raw.client.config_set("maxmemory-policy", "noeviction")
        await raw.close()
        async with QueueManager(config) as manager:
            assert len(await manager.status()) == 4
    finally:
        server.stop()
