"""The same services as Docker containers, where the Debian programs are missing.

The containers use the host network so every service keeps the loopback URL
shape of the process backend (and Redis Cluster announces reachable
addresses). The Docker SDK is used directly rather than testcontainers' reaper,
because ``perfcore stack up`` must outlive the command that started it;
``down`` removes the containers by id.
"""

from __future__ import annotations

import contextlib
import time
from functools import partial
from typing import Any

from perfcore.errors import ServiceUnavailable
from perfcore.stack.mariadb_server import DATABASE, SERVER_OPTIONS, mariadb_dsn, mariadb_ready
from perfcore.stack.process import HOST, free_port, port_answers, wait_until
from perfcore.stack.redis_server import CLUSTER_PORT_LIMIT, cluster_url, wait_for_cluster

REDIS_IMAGE = "redis:7.2"
MARIADB_IMAGE = "mariadb:10.11"
LABEL = {"org.perfcore.stack": "1"}


def docker_client() -> Any:
    """A connected Docker client, or :class:`ServiceUnavailable`."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception as exc:
        raise ServiceUnavailable(f"no Docker daemon reachable: {exc}") from None


def docker_reachable() -> bool:
    try:
        docker_client()
    except ServiceUnavailable:
        return False
    return True


def _run(image: str, command: list[str], env: dict[str, str] | None = None) -> str:
    container = docker_client().containers.run(
        image, command, detach=True, network_mode="host", environment=env or {}, labels=LABEL
    )
    return str(container.id)


def remove_containers(container_ids: list[str]) -> None:
    client = docker_client()
    for container_id in container_ids:
        with contextlib.suppress(Exception):  # already gone: down is idempotent
            client.containers.get(container_id).remove(force=True)


def containers_running(container_ids: list[str]) -> bool:
    try:
        client = docker_client()
        return all(client.containers.get(cid).status == "running" for cid in container_ids)
    except Exception:
        return False


def start_redis_containers(
    policy: str, count: int, cluster: bool
) -> tuple[str, list[int], list[str]]:
    """Start ``count`` Redis containers; return (url, ports, container ids)."""
    ports = [free_port(CLUSTER_PORT_LIMIT) for _ in range(count)]
    options = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"] if cluster else []
    # a queue Redis (noeviction) keeps an append-only file, as in the process backend
    persistence = (
        ["--appendonly", "yes", "--appendfsync", "everysec"]
        if policy == "noeviction"
        else ["--appendonly", "no"]
    )
    ids = [
        _run(
            REDIS_IMAGE,
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                HOST,
                "--save",
                "",
                *persistence,
                "--maxmemory",
                "256mb",
                "--maxmemory-policy",
                policy,
                *options,
            ],
        )
        for port in ports
    ]
    for port in ports:
        wait_until(partial(port_answers, port, b"PING\r\n", b"PONG"), f"redis container {port}")
    if not cluster:
        return f"redis://{HOST}:{ports[0]}/0", ports, ids
    create = ["redis-cli", "--cluster", "create", *(f"{HOST}:{p}" for p in ports),
              "--cluster-replicas", "0", "--cluster-yes"]  # fmt: skip
    result = docker_client().containers.get(ids[0]).exec_run(create)
    if result.exit_code != 0:
        remove_containers(ids)
        raise ServiceUnavailable(f"redis-cli --cluster create failed: {result.output[-300:]!r}")
    time.sleep(1.0)  # let the nodes gossip the slot table
    wait_for_cluster(ports)
    return cluster_url(ports), ports, ids


def start_mariadb_container() -> tuple[str, int, str]:
    """Start MariaDB; return (dsn, port, container id)."""
    port = free_port()
    container_id = _run(
        MARIADB_IMAGE,
        [f"--port={port}", f"--bind-address={HOST}", *SERVER_OPTIONS],
        env={
            "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1",
            "MARIADB_ROOT_HOST": "%",
            "MARIADB_DATABASE": DATABASE,
        },
    )
    wait_until(partial(mariadb_ready, port), f"mariadb container {port}", timeout_s=180)
    return mariadb_dsn(port), port, container_id
