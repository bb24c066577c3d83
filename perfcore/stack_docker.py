"""The same services as :mod:`perfcore.stack`, as Docker containers.

Used where the Debian programs are missing but a Docker daemon answers. The
containers use the host network so that every service keeps the loopback URL
shape of the process backend (and Redis Cluster announces reachable
addresses). The Docker SDK is used directly rather than testcontainers' reaper,
because ``perfcore stack up`` must outlive the command that started it; ``down``
removes the containers by id.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from perfcore.errors import ServiceUnavailable

REDIS_IMAGE = "redis:7.2"
MARIADB_IMAGE = "mariadb:10.11"


def docker_client() -> Any:
    """A connected Docker client, or :class:`ServiceUnavailable`."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception as exc:
        raise ServiceUnavailable(f"no Docker daemon reachable: {exc}") from None


def run_container(image: str, command: list[str], env: dict[str, str] | None = None) -> str:
    """Start ``image`` detached on the host network; return the container id."""
    client = docker_client()
    container = client.containers.run(
        image,
        command,
        detach=True,
        network_mode="host",
        environment=env or {},
        labels={"org.perfcore.stack": "1"},
    )
    return str(container.id)


def exec_in(container_id: str, command: list[str]) -> str:
    result = docker_client().containers.get(container_id).exec_run(command)
    output = result.output.decode(errors="replace")
    if result.exit_code != 0:
        raise ServiceUnavailable(f"{' '.join(command[:3])} failed in container: {output[-300:]}")
    return str(output)


def remove_containers(container_ids: list[str]) -> None:
    client = docker_client()
    for container_id in container_ids:
        with contextlib.suppress(Exception):  # already gone: down is idempotent
            client.containers.get(container_id).remove(force=True)


def container_running(container_id: str) -> bool:
    try:
        return bool(docker_client().containers.get(container_id).status == "running")
    except Exception:
        return False


def redis_command(port: int, maxmemory_policy: str, cluster: bool) -> list[str]:
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory",
        "256mb",
        "--maxmemory-policy",
        maxmemory_policy,
    ]
    if cluster:
        command += ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
    return command


def create_cluster(first_container: str, ports: list[int]) -> None:
    exec_in(
        first_container,
        [
            "redis-cli",
            "--cluster",
            "create",
            *(f"127.0.0.1:{p}" for p in ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        ],
    )
    time.sleep(1.0)  # let the nodes gossip the slot table before readiness checks


def mariadb_container(port: int, database: str) -> str:
    return run_container(
        MARIADB_IMAGE,
        [
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--log-output=TABLE",
            "--slow-query-log=1",
            "--long-query-time=0.1",
            "--local-infile=1",
            "--performance-schema=ON",
            "--innodb-buffer-pool-size=256M",
        ],
        env={
            "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1",
            "MARIADB_ROOT_HOST": "%",
            "MARIADB_DATABASE": database,
        },
    )
