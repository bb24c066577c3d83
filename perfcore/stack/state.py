"""The stack: named services under one run directory, with a state file.

``up`` records each service's URL, ports and pids (or container ids) in
``<run_dir>/stack.json`` as soon as it is running, so ``down`` stops exactly
what ``up`` started, from any process, even after a partial start.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, NotRequired

from pydantic import Field, TypeAdapter, ValidationError

# pydantic reads a TypedDict only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict

from perfcore.config import ConfigError, format_validation_error, parse_json, read_text_file
from perfcore.errors import ServiceUnavailable
from perfcore.stack import containers
from perfcore.stack.mariadb_server import start_mariadb
from perfcore.stack.process import find_program, pid_alive, stop_pid
from perfcore.stack.redis_server import start_redis, start_redis_cluster

SERVICES = ("redis_cache", "redis_queues", "redis_cluster", "mariadb")

# The program each service needs; where it is missing, a reachable Docker daemon runs it.
PROGRAM_FOR = {
    "redis_cache": "redis-server",
    "redis_queues": "redis-server",
    "redis_cluster": "redis-cli",
    "mariadb": "mariadbd",
}
# Redis for the cache may evict; BullMQ's Redis must not (it would lose jobs).
POLICY_FOR = {
    "redis_cache": "allkeys-lru",
    "redis_queues": "noeviction",
    "redis_cluster": "noeviction",
}


Pid = Annotated[int, Field(gt=1)]  # never 0, -1 or init: signalling those hits many processes


class ServiceState(TypedDict):
    url: str
    pids: list[Pid]
    ports: list[Annotated[int, Field(ge=1, le=65535)]]
    containers: NotRequired[list[str]]


_STATE = TypeAdapter(dict[str, ServiceState])


def default_run_dir() -> Path:
    """``$PERFCORE_RUN_DIR`` or ``./.perfcore/stack``."""
    return Path(os.environ.get("PERFCORE_RUN_DIR", ".perfcore/stack")).resolve()


def _runs_in_docker(name: str) -> bool:
    # Without the program and without Docker, the process backend names the missing package.
    return find_program(PROGRAM_FOR[name]) is None and containers.docker_reachable()


def start_service(name: str, directory: Path) -> ServiceState:
    """Start one named service as local processes, or containers where needed."""
    if name == "mariadb":
        if _runs_in_docker(name):
            dsn, port, container_id = containers.start_mariadb_container()
            return {"url": dsn, "pids": [], "ports": [port], "containers": [container_id]}
        db = start_mariadb(directory)
        return {"url": db.dsn, "pids": [db.pid], "ports": [db.port]}
    cluster = name == "redis_cluster"
    if _runs_in_docker(name):
        url, ports, ids = containers.start_redis_containers(
            POLICY_FOR[name], 3 if cluster else 1, cluster
        )
        return {"url": url, "pids": [], "ports": ports, "containers": ids}
    if cluster:
        if directory.exists():  # a stale nodes.conf would make the new nodes refuse to join
            shutil.rmtree(directory)
        nodes = start_redis_cluster(directory)
        return {
            "url": nodes.url,
            "pids": [s.pid for s in nodes.servers],
            "ports": [s.port for s in nodes.servers],
        }
    server = start_redis(directory, maxmemory_policy=POLICY_FOR[name])
    return {"url": server.url, "pids": [server.pid], "ports": [server.port]}


class Stack:
    """The services under one run directory."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or default_run_dir()
        self.state_file = self.run_dir / "stack.json"

    def read_state(self) -> dict[str, ServiceState]:
        """The recorded services; a file that is not one ``up`` wrote is bad input, not trusted."""
        if not self.state_file.exists():
            return {}
        data = parse_json(read_text_file(self.state_file), str(self.state_file))
        try:
            return _STATE.validate_python(data, strict=True)
        except ValidationError as exc:
            raise ConfigError(
                f"{self.state_file}: not a stack state file ({format_validation_error(exc)});"
                " stop its services by hand and delete it"
            ) from None

    def _write_state(self, state: dict[str, ServiceState]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def up(self, services: Iterable[str] = SERVICES) -> dict[str, str]:
        """Start the named services not already running; return every running service's URL."""
        wanted = list(services)
        unknown = [s for s in wanted if s not in SERVICES]
        if unknown:
            raise ServiceUnavailable(
                f"unknown service {unknown[0]!r}; choose from {', '.join(SERVICES)}"
            )
        state = {name: info for name, info in self.read_state().items() if self._alive(info)}
        for name in wanted:
            if name not in state:
                state[name] = start_service(name, self.run_dir / name)
                self._write_state(state)  # at once: a later failure must not orphan it
        self._write_state(state)
        return {name: info["url"] for name, info in state.items()}

    @staticmethod
    def _alive(info: ServiceState) -> bool:
        if info.get("containers"):
            return containers.containers_running(info.get("containers", []))
        return bool(info["pids"]) and all(pid_alive(pid) for pid in info["pids"])

    def status(self) -> dict[str, dict[str, object]]:
        return {
            name: {**info, "running": self._alive(info)} for name, info in self.read_state().items()
        }

    def down(self) -> list[str]:
        """Stop every process or container ``up`` recorded; return the names stopped."""
        state = self.read_state()
        for info in state.values():
            for pid in info["pids"]:
                stop_pid(pid)
            if info.get("containers"):
                containers.remove_containers(info.get("containers", []))
        self.state_file.unlink(missing_ok=True)
        return list(state)
