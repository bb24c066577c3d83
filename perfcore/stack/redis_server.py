"""Redis on loopback: a standalone server, and a cluster of primaries.

A queue Redis (``noeviction``) also keeps an append-only file in its directory
(``appendonly yes``, ``appendfsync everysec``, as BullMQ asks of production):
stopped and started again on the same directory it comes back with its jobs.
A cache Redis keeps nothing on disk.

>>> server = start_redis(Path("/tmp/r"), maxmemory_policy="noeviction")  # doctest: +SKIP
>>> server.stop(); server.start()      # same port and data: restart tests  # doctest: +SKIP
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from perfcore.errors import ServiceUnavailable
from perfcore.stack.process import (
    HOST,
    Server,
    port_answers,
    require_program,
    wait_until,
    with_port_retries,
)

CLUSTER_PORT_LIMIT = 65536 - 10000


@dataclass
class RedisServer(Server):
    """``redis-server``; ``maxmemory-policy`` and persistence chosen per role."""

    maxmemory_policy: str = "allkeys-lru"
    cluster: bool = False
    appendonly: bool = False

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def _argv(self) -> list[str]:
        argv = [
            require_program("redis-server", "redis-server"),
            *("--port", str(self.port), "--bind", HOST, "--protected-mode", "no"),
            *("--save", "", "--dir", str(self.directory)),
            *(
                ("--appendonly", "yes", "--appendfsync", "everysec")
                if self.appendonly
                else ("--appendonly", "no")
            ),
            *("--maxmemory", "256mb", "--maxmemory-policy", self.maxmemory_policy),
            # Keep argv and the environment as given: rewriting the process title
            # overwrites /proc/<pid>/environ, which tools that pick processes by
            # their environment (CPU reservation, monitoring) read.
            *("--set-proc-title", "no"),
        ]
        if self.cluster:
            argv += [
                *("--cluster-enabled", "yes", "--cluster-node-timeout", "5000"),
                *("--cluster-config-file", f"nodes-{self.port}.conf"),
            ]
        return argv

    def _ready(self) -> bool:
        return port_answers(self.port, b"PING\r\n", b"PONG")


def start_redis(
    run_dir: Path,
    *,
    maxmemory_policy: str = "allkeys-lru",
    port: int | None = None,
    cluster: bool = False,
    appendonly: bool | None = None,
) -> RedisServer:
    """Start a Redis server under ``run_dir`` and wait until it answers PING.

    ``appendonly`` defaults to on for a ``noeviction`` server: that is a queue
    Redis, and a queue must survive a restart.
    """
    persistent = maxmemory_policy == "noeviction" if appendonly is None else appendonly
    return with_port_retries(
        lambda chosen: RedisServer(
            run_dir,
            chosen,
            maxmemory_policy=maxmemory_policy,
            cluster=cluster,
            appendonly=persistent,
        ).start(),
        port,
        # A cluster node also listens on port + 10000 (the cluster bus).
        below=CLUSTER_PORT_LIMIT if cluster else 65536,
    )


@dataclass
class RedisCluster:
    """Cluster primaries with all 16384 slots assigned (no replicas: tests need primaries)."""

    servers: list[RedisServer]

    @property
    def nodes(self) -> list[tuple[str, int]]:
        return [(HOST, server.port) for server in self.servers]

    @property
    def url(self) -> str:
        return cluster_url([port for _, port in self.nodes])

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def cluster_url(ports: list[int]) -> str:
    """``redis+cluster://h:p,h:p,...``: the scheme perfcore uses to select cluster mode."""
    return "redis+cluster://" + ",".join(f"{HOST}:{port}" for port in ports)


def wait_for_cluster(ports: list[int]) -> None:
    for port in ports:
        wait_until(
            partial(port_answers, port, b"CLUSTER INFO\r\n", b"cluster_state:ok"),
            f"cluster node {port}",
        )


def start_redis_cluster(run_dir: Path, primaries: int = 3) -> RedisCluster:
    """Start cluster-enabled servers and join them with ``redis-cli --cluster create``."""
    cluster = RedisCluster([])
    try:
        for i in range(primaries):
            node = start_redis(run_dir / f"node{i}", cluster=True, maxmemory_policy="noeviction")
            cluster.servers.append(node)
    except ServiceUnavailable:
        cluster.stop()  # the nodes already running would otherwise outlive the failure
        raise
    create = [
        require_program("redis-cli", "redis-tools"),
        *("--cluster", "create", *(f"{h}:{p}" for h, p in cluster.nodes)),
        *("--cluster-replicas", "0", "--cluster-yes"),
    ]
    result = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        cluster.stop()
        raise ServiceUnavailable(f"redis-cli --cluster create failed: {result.stdout[-300:]}")
    wait_for_cluster([port for _, port in cluster.nodes])
    return cluster
