"""A real closed loop on one machine: BullMQ backlog -> QueueBacklogPolicy -> worker processes.

Jobs pile up in a real Redis; the autoscaler starts ``perfcore worker``
processes, they drain the queue, and the loop scales back to one worker.
Every job must have run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from perfcore.config import QueuesConfig, ScalingConfig
from perfcore.queues.manager import QueueManager, status_sync
from perfcore.scaling.loop import AutoScaler
from perfcore.scaling.metrics import BullMQBacklogSource
from perfcore.scaling.policies import make_policy
from perfcore.scaling.processes import ProcessActuator

pytestmark = [pytest.mark.redis, pytest.mark.slow]

HERE = Path(__file__).parent
JOBS = 240
JOB_SECONDS = 0.05


def queues_config(redis_url: str, tmp_path: Path) -> QueuesConfig:
    return QueuesConfig(
        redis_url=redis_url,
        prefix=f"s{uuid.uuid4().hex[:10]}",  # tests share the queue Redis
        database_url=f"sqlite:///{tmp_path / 'ref.sqlite'}",
        export_dir=str(tmp_path / "exports"),
        lock_duration_ms=5000,
        stalled_interval_ms=2000,
        shutdown_timeout_s=20,
    )


def worker_command(config: QueuesConfig) -> list[str]:
    sets = {
        "queues.prefix": config.prefix,
        "queues.database_url": config.database_url,
        "queues.export_dir": config.export_dir,
        "queues.lock_duration_ms": config.lock_duration_ms,
        "queues.stalled_interval_ms": config.stalled_interval_ms,
        "queues.handlers": "[scaling_test_handlers:HANDLERS]",
    }
    flags = [item for key, value in sets.items() for item in ("--set", f"{key}={value}")]
    return [
        *(sys.executable, "-m", "perfcore", "worker", "--queues", "normal"),
        *("--concurrency", "1", "--redis", config.redis_url, *flags),
    ]


async def enqueue(config: QueuesConfig, out_dir: Path) -> None:
    async with QueueManager(config) as manager:
        await manager.add_bulk(
            ("scaling_tick", {"n": n, "seconds": JOB_SECONDS, "out_dir": str(out_dir)})
            for n in range(JOBS)
        )


def test_workers_scale_up_drain_the_backlog_and_scale_back_down(
    redis_queues_url: str, tmp_path: Path
) -> None:
    qconfig = queues_config(redis_queues_url, tmp_path)
    out_dir = tmp_path / "done"
    out_dir.mkdir()
    asyncio.run(enqueue(qconfig, out_dir))

    scaling = ScalingConfig(
        policy="queue-backlog",
        min_replicas=1,
        max_replicas=4,
        backlog_per_replica=40,
        scale_down_stabilization_s=3,
    )
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    actuator = ProcessActuator(
        worker_command(qconfig), env=env, stop_timeout_s=20, log_dir=tmp_path / "logs"
    )
    source = BullMQBacklogSource(qconfig, queues=["normal"])
    alerts: list[str] = []
    log_path = tmp_path / "decisions.jsonl"
    with log_path.open("w") as log:
        scaler = AutoScaler(
            make_policy(scaling),
            source,
            actuator,
            interval_s=0.5,
            log=log,
            alert=lambda message, record: alerts.append(message),
        )
        runner = threading.Thread(target=scaler.run, daemon=True)
        runner.start()
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                done = len(list(out_dir.glob("*.done")))
                if done == JOBS and actuator.status().current == 1:
                    break
                time.sleep(0.5)
        finally:
            scaler.stop()
            runner.join(timeout=30)
            actuator.close()

    seen = scaler.stats.replicas_seen
    assert max(seen) >= 3, seen  # scaled up on the backlog
    assert seen[-1] == 1, seen  # and back down once it drained
    markers = {int(p.stem) for p in out_dir.glob("*.done")}
    assert markers == set(range(JOBS))  # no job lost
    (normal,) = [s for s in status_sync(qconfig) if s.name == "normal"]
    assert (normal.backlog, normal.active, normal.failed) == (0, 0, 0)
    assert alerts == [], alerts
    # Every worker that was stopped exited cleanly (SIGTERM drains in-flight jobs).
    assert actuator.exit_codes and all(code == 0 for code in actuator.exit_codes)
