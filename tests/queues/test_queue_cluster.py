"""BullMQ on Redis Cluster: a hash-tag prefix keeps each queue's keys in one slot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config, wait_for_state
from redis.asyncio.cluster import RedisCluster

from perfcore.config import ConfigError, QueuesConfig
from perfcore.queues.connection import make_client, parse_redis_url
from perfcore.queues.handlers import JobContext
from perfcore.queues.manager import QueueManager
from perfcore.queues.worker import WorkerProcess

pytestmark = [pytest.mark.redis, pytest.mark.cluster]


async def test_queues_work_on_a_cluster_with_a_hash_tag_prefix(
    redis_cluster_url: str, tmp_path: Path
) -> None:
    config = make_config(redis_cluster_url, tmp_path, prefix="{pc-cluster-test}")
    seen: list[str] = []

    def record(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data["tag"])
        return {"tag": data["tag"]}

    async with QueueManager(config) as manager:
        low = await manager.add("data_backup", {"tag": "batch"}, queue="critical")
        urgent = await manager.add("emergency_alert", {"tag": "urgent"})
        bulk = await manager.add_bulk(
            [("real_time_notification", {"tag": f"bulk{i}"}) for i in range(3)]
        )
        worker = WorkerProcess(
            config,
            ["critical"],
            concurrency=1,
            handlers=dict.fromkeys(
                ("data_backup", "emergency_alert", "real_time_notification"), record
            ),
        )
        await worker.start()
        try:
            critical = manager.queues["critical"]
            for job in (low, urgent, *bulk):
                assert (
                    await wait_for_state(critical, job.id, {"completed", "failed"}) == "completed"
                )
            status = {s.name: s for s in await manager.status()}
        finally:
            await worker.stop()
    assert seen[-1] == "batch"  # the priority-4 job runs after the four priority-1 jobs
    assert status["critical"].completed == 5 and status["critical"].workers == 1
    # every key of the queue really is in one slot
    client = make_client(parse_redis_url(redis_cluster_url))
    assert isinstance(client, RedisCluster)
    try:
        keys = [
            key
            async for key in client.scan_iter(
                match="{pc-cluster-test}:*", target_nodes=RedisCluster.ALL_NODES
            )
        ]
        slots = {client.keyslot(key) for key in keys}
    finally:
        await client.aclose()
    assert len(keys) > 5 and len(slots) == 1


async def test_cluster_without_hash_tag_is_refused(redis_cluster_url: str, tmp_path: Path) -> None:
    config: QueuesConfig = make_config(redis_cluster_url, tmp_path, prefix="bull")
    with pytest.raises(ConfigError, match=r"^queues.prefix: Redis Cluster needs a hash tag"):
        await QueueManager(config).open()
    await asyncio.sleep(0)
