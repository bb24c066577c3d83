"""The stack: named services under one run directory, with a state file.

``up`` records each service's URL, ports and pids (or container ids) in
``<run_dir>/stack.json`` as soon as it is running, so ``down`` stops exactly
what ``up`` started, from any process, even after a partial start.  With each
pid it records the process's name and start time; ``status`` calls a service
running, and ``down`` signals a pid, only while that is still the process
there (:mod:`perfcore.stack.identity`): a reused pid is left alone.

The URLs are what a user's own services connect to, so ``up --json`` prints
them; the stack's services have no passwords, and the command line masks
anything that looks like one all the same (:func:`perfcore.redact.redact`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NotRequired, TypedDict

from perfcore.errors import BadInput, ServiceUnavailable
from perfcore.stack import containers
from perfcore.stack.identity import ProcessIdentity, describe, identify, still_ours
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


class ServiceState(TypedDict):
    url: str
    pids: list[int]
    ports: list[int]
    containers: NotRequired[list[str]]
    processes: NotRequired[list[dict[str, object]]]  # ProcessIdentity of each pid


def _with_identities(info: ServiceState) -> ServiceState:
    """``info`` plus the name and start time of each of its pids (just started: ours)."""
    return {**info, "processes": [identify(pid).to_dict() for pid in info["pids"]]}


def _recorded(info: ServiceState, pid: int) -> ProcessIdentity | None:
    for entry in info.get("processes", []):
        if entry.get("pid") == pid:
            started, program = entry.get("started"), entry.get("program")
            if isinstance(started, int | float) and isinstance(program, str):
                return ProcessIdentity(pid, float(started), program)
    return None


def _check_state(data: object, path: Path) -> dict[str, ServiceState]:
    """The parsed state file, or BadInput naming the file and the first problem."""

    def bad(problem: str) -> BadInput:
        return BadInput(f"{path}: corrupt stack state ({problem}); remove it and run 'stack up'")

    if not isinstance(data, dict):
        raise bad("expected a JSON object of services")
    for name, info in data.items():
        if name not in SERVICES:
            raise bad(f"unknown service {name!r}")
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            raise bad(f"{name}: expected an object with a url")
        for field, top in (("pids", 2**22), ("ports", 65535)):  # 2**22: Linux's pid_max
            values = info.get(field)
            if not isinstance(values, list) or not all(
                type(v) is int and 0 < v <= top for v in values
            ):
                raise bad(f"{name}.{field}: expected a list of integers in 1..{top}")
        if not all(isinstance(c, str) for c in info.get("containers", [])):
            raise bad(f"{name}.containers: expected a list of ids")
        if not isinstance(info.get("processes", []), list):
            raise bad(f"{name}.processes: expected a list")
    return data


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


def program_of(name: str) -> str:
    """The process name a service's pids carry (``mariadbd``, ``redis-server``)."""
    return "mariadbd" if name == "mariadb" else "redis-server"


class Stack:
    """The services under one run directory."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or default_run_dir()
        self.state_file = self.run_dir / "stack.json"

    def read_state(self) -> dict[str, ServiceState]:
        """The recorded services; a state file that does not parse is bad input."""
        if not self.state_file.exists():
            return {}
        try:
            data = json.loads(self.state_file.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise BadInput(
                f"{self.state_file}: corrupt stack state ({reason}); remove it and run 'stack up'"
            ) from None
        except OSError as exc:
            raise BadInput(f"{self.state_file}: cannot read: {exc.strerror}") from None
        return _check_state(data, self.state_file)

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
        state = {name: info for name, info in self.read_state().items() if self._alive(name, info)}
        for name in wanted:
            if name not in state:
                state[name] = _with_identities(start_service(name, self.run_dir / name))
                self._write_state(state)  # at once: a later failure must not orphan it
        self._write_state(state)
        return {name: info["url"] for name, info in state.items()}

    @staticmethod
    def _ours(name: str, info: ServiceState, pid: int) -> bool:
        return still_ours(_recorded(info, pid), pid, program_of(name))

    def _alive(self, name: str, info: ServiceState) -> bool:
        if info.get("containers"):
            return containers.containers_running(info.get("containers", []))
        return bool(info["pids"]) and all(self._ours(name, info, pid) for pid in info["pids"])

    def status(self) -> dict[str, dict[str, object]]:
        """Each recorded service with ``running``: every pid is still the server ``up`` started."""
        return {
            name: {**info, "running": self._alive(name, info)}
            for name, info in self.read_state().items()
        }

    def down(self, warn: Callable[[str], None] | None = None) -> list[str]:
        """Stop every process or container ``up`` recorded; return the names stopped.

        A pid that is no longer the recorded server is not signalled (``warn``
        hears about it): the kernel may have given the number to anything.
        """
        state = self.read_state()
        for name, info in state.items():
            for pid in info["pids"]:
                if self._ours(name, info, pid):
                    stop_pid(pid)
                elif pid_alive(pid) and warn is not None:
                    warn(
                        f"{name}: pid {pid} is no longer the {program_of(name)} 'up' started "
                        f"({describe(pid)}); not signalled"
                    )
            if info.get("containers"):
                containers.remove_containers(info.get("containers", []))
        self.state_file.unlink(missing_ok=True)
        return list(state)
