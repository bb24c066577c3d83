"""Interop with Node.js BullMQ (npm ``bullmq`` + ``ioredis``): same Redis layout both ways."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import wait_for_state
from sqlalchemy import select

from perfcore.config import QueuesConfig
from perfcore.platform.database import connect
from perfcore.platform.schema import notifications
from perfcore.queues.manager import QueueManager

pytestmark = [pytest.mark.redis, pytest.mark.node]


def node_env(config: QueuesConfig, **extra: str) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": config.redis_url, "PREFIX": config.prefix, **extra}


async def test_job_added_from_python_is_processed_by_a_node_worker(
    qconfig: QueuesConfig, node_dir: Path
) -> None:
    async with QueueManager(qconfig) as manager:
        node = subprocess.Popen(
            [str(shutil.which("node")), "worker.mjs"],
            cwd=node_dir,
            env=node_env(qconfig, QUEUE="critical", MAX_JOBS="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert node.stdout is not None
            assert await asyncio.to_thread(node.stdout.readline) == "ready\n"
            # the Node worker names its connection <prefix>:<base64(queue)>:w:<name>
            for _ in range(50):  # it may name the connection just after "ready"
                workers = {s.name: s.workers for s in await manager.status()}
                if workers["critical"]:
                    break
                await asyncio.sleep(0.1)
            urgent = await manager.add(
                "emergency_alert", {"recipient": "ops@x", "subject": "exit B closed"}
            )
            out, err = await asyncio.to_thread(node.communicate, timeout=60)
        finally:
            if node.poll() is None:
                node.kill()
        assert node.returncode == 0, err
        reported = json.loads(out.splitlines()[0])
        critical = manager.queues["critical"]
        assert await critical.getJobState(urgent.id) == "completed"
        stored = await critical.getJob(urgent.id)
    assert reported["id"] == urgent.id
    assert workers == {"critical": 1, "high": 0, "normal": 0, "low": 0}
    expected = {
        "processedBy": "node",
        "pid": node.pid,
        "name": "emergency_alert",
        "data": {"recipient": "ops@x", "subject": "exit B closed"},
        "priority": 1,
    }
    assert reported["result"] == expected == stored.returnvalue


def produce_from_node(
    config: QueuesConfig, node_dir: Path, data: dict[str, str], **env: str
) -> str:
    """Add one notification_sending job to ``normal`` with the Node producer; its id."""
    produced = subprocess.run(
        [str(shutil.which("node")), "producer.mjs"],
        cwd=node_dir,
        env=node_env(
            config,
            QUEUE="normal",
            NAME="notification_sending",
            DATA=json.dumps(data),
            PRIORITY="3",
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return str(json.loads(produced.stdout)["id"])


async def test_job_added_from_node_is_processed_by_a_perfcore_worker(
    qconfig: QueuesConfig, node_dir: Path, spawn_worker, tmp_path: Path
) -> None:
    data = {"recipient": "attendee@x", "subject": "Your badge", "channel": "push"}
    job_id = produce_from_node(qconfig, node_dir, data)
    assert uuid.UUID(job_id).version == 4  # the producer contract: a UUID as jobId
    # an id-less producer outside the contract gets BullMQ's counter
    counter_id = produce_from_node(qconfig, node_dir, {**data, "subject": "old"}, JOB_ID="counter")
    assert counter_id.isdigit()
    worker = spawn_worker("normal")
    async with QueueManager(qconfig) as manager:
        normal = manager.queues["normal"]
        assert await wait_for_state(normal, job_id, {"completed", "failed"}) == "completed"
        assert await wait_for_state(normal, counter_id, {"completed", "failed"}) == "completed"
        job = await normal.getJob(job_id)
        counter_job = await normal.getJob(counter_id)
        statuses = {s.name: s.workers for s in await manager.status()}
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 30) == 0
    assert job.name == "notification_sending" and job.data == data
    # two first runs, two outbox rows (in whichever order the worker took the jobs)
    assert {job.returnvalue["outbox_id"], counter_job.returnvalue["outbox_id"]} == {1, 2}
    assert job.returnvalue["duplicate"] is counter_job.returnvalue["duplicate"] is False
    assert statuses["normal"] == 1
    # the handler really wrote the outbox rows, keyed by the id (+ creation time for a counter id)
    engine = connect(qconfig.database_url)
    with engine.connect() as conn:
        rows = {row.subject: row for row in conn.execute(select(notifications))}
    engine.dispose()
    assert (
        rows["Your badge"].job_key,
        rows["Your badge"].recipient,
        rows["Your badge"].channel,
    ) == (
        f"{qconfig.prefix}:normal:{job_id}",
        "attendee@x",
        "push",
    )
    assert rows["old"].job_key == f"{qconfig.prefix}:normal:{counter_id}@{counter_job.timestamp}"
