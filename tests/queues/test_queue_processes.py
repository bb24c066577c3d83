"""Real ``perfcore worker`` processes: graceful SIGTERM, recovery after SIGKILL, the status CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import config_overrides, perfcore_argv, wait_for_state

from perfcore.config import QueuesConfig
from perfcore.queues.manager import QueueManager

pytestmark = [pytest.mark.redis, pytest.mark.slow]


async def wait_for_file(path: Path, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never written")


async def test_sigterm_finishes_the_running_job_then_exits_0(
    qconfig: QueuesConfig, spawn_worker, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    async with QueueManager(qconfig) as manager:
        job = await manager.add("slow_job", {"started_file": str(started), "seconds": 2})
        proc = spawn_worker("normal")
        pid = await wait_for_file(started)
        assert int(pid) == proc.pid
        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(proc.wait, 30)
        normal = manager.queues["normal"]
        assert await normal.getJobState(job.id) == "completed"
        finished = await normal.getJob(job.id)
    assert returncode == 0
    assert finished.returnvalue["pid"] == proc.pid


async def test_sigkilled_worker_loses_no_job(
    qconfig: QueuesConfig, spawn_worker, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    async with QueueManager(qconfig) as manager:
        job = await manager.add("slow_job", {"started_file": str(started), "seconds": 1.5})
        victim = spawn_worker("normal")
        assert int(await wait_for_file(started)) == victim.pid
        victim.kill()  # SIGKILL mid-job: no cleanup, the lock just stops being renewed
        await asyncio.to_thread(victim.wait, 10)
        normal = manager.queues["normal"]
        assert await normal.getJobState(job.id) == "active"
        started.unlink()
        rescuer = spawn_worker("normal")
        # lock_duration 2 s + stalled checks every 1 s (tests/queues/conftest.make_config)
        assert (
            await wait_for_state(normal, job.id, {"completed", "failed"}, timeout_s=40)
            == "completed"
        )
        finished = await normal.getJob(job.id)
        rescuer.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(rescuer.wait, 30) == 0
    assert finished.returnvalue["pid"] == rescuer.pid != victim.pid
    assert finished.stalledCounter == 1


async def test_status_cli_json_reports_every_queue_and_worker(
    qconfig: QueuesConfig, spawn_worker, tmp_path: Path
) -> None:
    async with QueueManager(qconfig) as manager:
        await manager.add("data_backup", {})
        await manager.add("data_backup", {}, delay_ms=60_000)
    worker = spawn_worker("critical,high")
    argv = perfcore_argv(
        "queues", "status", "--redis", qconfig.redis_url, "--json", "--out", str(tmp_path / "out")
    )
    argv += config_overrides(qconfig)
    payload: dict[str, object] = {}
    for _ in range(100):  # until the worker has connected
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        payload = json.loads(result.stdout)  # exactly one JSON object on stdout
        if payload["queues"]["critical"]["workers"] == 1:  # type: ignore[index]
            break
        await asyncio.sleep(0.1)
    queues = payload["queues"]
    assert list(queues) == ["critical", "high", "normal", "low"]  # type: ignore[arg-type]
    assert queues["low"] == {  # type: ignore[index]
        "name": "low",
        "waiting": 0,
        "active": 0,
        "delayed": 1,
        "prioritized": 1,
        "completed": 0,
        "failed": 0,
        "workers": 0,
        "backlog": 2,
        "stalled_s": None,  # no live perfcore worker publishes progress for "low"
        "workers_stalled": 0,
    }
    assert queues["critical"]["workers"] == queues["high"]["workers"] == 1  # type: ignore[index]
    assert json.loads((tmp_path / "out" / "queues-status.json").read_text()) == payload
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 30) == 0


def test_bad_queue_name_is_bad_input(qconfig: QueuesConfig) -> None:
    result = subprocess.run(
        perfcore_argv("worker", "--queues", "urgent", "--redis", qconfig.redis_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: --queues: unknown queue 'urgent'; configured: critical, high, normal, low"
    )


async def test_add_cli_routes_the_job_and_rejects_bad_data(qconfig: QueuesConfig) -> None:
    base = perfcore_argv("queues", "add", "dashboard_update", "--redis", qconfig.redis_url)
    base += config_overrides(qconfig)
    ok = subprocess.run(
        [*base, "--data", '{"event_ids": [1]}', "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    added = json.loads(ok.stdout)
    assert (added["queue"], added["priority"], added["type"]) == ("high", 2, "dashboard_update")
    async with QueueManager(qconfig) as manager:
        job = await manager.queues["high"].getJob(added["id"])
    assert job.name == "dashboard_update" and job.data == {"event_ids": [1]} and job.priority == 2
    bad = subprocess.run([*base, "--data", "[1]"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --data: expected a JSON object"
