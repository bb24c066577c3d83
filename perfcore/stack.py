"""Real local services on free loopback ports: the stack behind the tests and the demos.

One code path starts them for users (``perfcore stack up``) and for the test
suite (``perfcore.testing``):

* ``redis_cache``  - Redis for the cache, ``maxmemory-policy allkeys-lru``
* ``redis_queues`` - a second Redis for BullMQ, ``noeviction`` (BullMQ requires it)
* ``redis_cluster`` - three cluster-enabled primaries joined by ``redis-cli --cluster create``
* ``mariadb`` - ``mariadbd`` on a fresh data dir, slow log to ``mysql.slow_log``

Each server is a child process in its own session whose pid, port and URL are
recorded in ``<run_dir>/stack.json``, so ``down`` stops exactly what ``up``
started, from any process.

>>> stack = Stack(Path("/tmp/demo-stack"))        # doctest: +SKIP
>>> urls = stack.up(["redis_cache"])               # doctest: +SKIP
>>> stack.down()                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NotRequired, TypedDict, TypeVar

from perfcore.errors import ServiceUnavailable

SERVICES = ("redis_cache", "redis_queues", "redis_cluster", "mariadb")
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


def default_run_dir() -> Path:
    """``$PERFCORE_RUN_DIR`` or ``./.perfcore/stack``."""
    return Path(os.environ.get("PERFCORE_RUN_DIR", ".perfcore/stack")).resolve()


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, package: str) -> str:
    """Path of ``name``, or a one-line error naming the package that provides it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise ServiceUnavailable(
            f"{name} not found: install the Debian package {package} "
            f"(sudo apt-get install {package}) or run 'make services'"
        )
    return found


def _wait_until(
    check: Callable[[], bool],
    what: str,
    process: Process | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        exited = process.exited_with() if process else None
        if exited:
            raise ServiceUnavailable(f"{what} exited at start-up: {exited}")
        try:
            if check():
                return
        except Exception as exc:  # any failure means "not ready yet"
            last_error = exc
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not become ready in {timeout_s:.0f} s ({last_error})")


def _port_answers(port: int, probe: bytes, expect: bytes) -> bool:
    with socket.create_connection((HOST, port), timeout=1.0) as sock:
        if probe:
            sock.sendall(probe)
        return expect in sock.recv(256)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; reaps our own children."""
    if not _pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:  # not our child: poll for its exit
            if not _pid_alive(pid):
                return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


@dataclass
class Process:
    """One server process: how to start it, and the child once started."""

    name: str
    argv: list[str]
    log: Path
    child: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def spawn(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            # New session: Ctrl-C in the user's shell must not kill the stack.
            self.child = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.child is not None:
            stop_pid(self.child.pid)
            self.child.poll()
            self.child = None

    def exited_with(self) -> str | None:
        """The log tail if the process has already exited (for a useful error), else None."""
        if self.child is None or self.child.poll() is None:
            return None
        tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
        return f"exit code {self.child.returncode}: " + " | ".join(tail)


# ---------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    """A ``redis-server`` on loopback; ``stop()``/``start()`` keep its port (for outage tests)."""

    directory: Path
    maxmemory_policy: str = "allkeys-lru"
    port: int = field(default_factory=free_port)
    cluster: bool = False
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def argv(self) -> list[str]:
        argv = [
            require_binary("redis-server", "redis-server"),
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--maxmemory",
            "256mb",
            "--maxmemory-policy",
            self.maxmemory_policy,
            "--protected-mode",
            "no",
        ]
        if self.cluster:
            argv += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{self.port}.conf",
                "--cluster-node-timeout",
                "5000",
            ]
        return argv

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = Process(f"redis:{self.port}", self.argv(), self.directory / "redis.log")
        self.process.spawn()
        try:
            _wait_until(
                lambda: _port_answers(self.port, b"PING\r\n", b"PONG"),
                f"redis on port {self.port}",
                self.process,
            )
        except ServiceUnavailable:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    @property
    def pid(self) -> int:
        if self.process is None or self.process.pid is None:
            raise ServiceUnavailable("server not started")
        return self.process.pid


def start_redis(
    run_dir: Path,
    *,
    maxmemory_policy: str = "allkeys-lru",
    port: int | None = None,
    cluster: bool = False,
) -> RedisServer:
    """Start a Redis server under ``run_dir`` and wait until it answers PING."""
    return _with_port_retries(
        lambda chosen: RedisServer(run_dir, maxmemory_policy, chosen, cluster).start(), port
    )


T = TypeVar("T")


def _with_port_retries(start: Callable[[int], T], port: int | None, attempts: int = 3) -> T:
    """Start on ``port``, or on a fresh free port, retrying when another process won the race."""
    if port is not None:
        return start(port)
    for attempt in range(attempts):
        try:
            return start(free_port())
        except ServiceUnavailable:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@dataclass
class RedisCluster:
    """Three (or more) cluster primaries with all 16384 slots assigned."""

    servers: list[RedisServer]

    @property
    def nodes(self) -> list[tuple[str, int]]:
        return [(HOST, server.port) for server in self.servers]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{h}:{p}" for h, p in self.nodes)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_redis_cluster(run_dir: Path, primaries: int = 3) -> RedisCluster:
    """Start ``primaries`` cluster-enabled servers and join them with ``redis-cli --cluster create``."""
    servers = [
        start_redis(run_dir / f"node{i}", cluster=True, maxmemory_policy="noeviction")
        for i in range(primaries)
    ]
    cluster = RedisCluster(servers)
    create = [
        require_binary("redis-cli", "redis-tools"),
        "--cluster",
        "create",
        *(f"{h}:{p}" for h, p in cluster.nodes),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
    ]
    result = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        cluster.stop()
        raise ServiceUnavailable(f"redis-cli --cluster create failed: {result.stdout[-300:]}")
    for _, port in cluster.nodes:
        _wait_until(
            partial(_port_answers, port, b"CLUSTER INFO\r\n", b"cluster_state:ok"),
            f"cluster node {port}",
        )
    return cluster


# -------------------------------------------------------------------- MariaDB


@dataclass
class MariaDB:
    """``mariadbd`` on a fresh data dir; root without password over TCP, database ``perfcore``."""

    directory: Path
    port: int = field(default_factory=free_port)
    database: str = "perfcore"
    process: Process | None = None

    @property
    def dsn(self) -> str:
        return f"mysql+pymysql://root@{HOST}:{self.port}/{self.database}"

    def _install(self) -> None:
        datadir = self.directory / "data"
        if (datadir / "mysql").exists():
            return
        datadir.mkdir(parents=True, exist_ok=True)
        argv = [
            require_binary("mariadb-install-db", "mariadb-server"),
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            f"--user={_user()}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ServiceUnavailable(f"mariadb-install-db failed: {result.stderr.strip()[-300:]}")

    def start(self) -> MariaDB:
        self._install()
        argv = [
            require_binary("mariadbd", "mariadb-server"),
            "--no-defaults",
            f"--datadir={self.directory / 'data'}",
            f"--socket={self.directory / 'mysqld.sock'}",
            f"--pid-file={self.directory / 'mysqld.pid'}",
            f"--port={self.port}",
            f"--bind-address={HOST}",
            f"--user={_user()}",
            "--skip-name-resolve",
            "--log-output=TABLE",
            "--slow-query-log=1",
            "--long-query-time=0.1",
            "--innodb-buffer-pool-size=256M",
            "--innodb-flush-log-at-trx-commit=2",
            "--local-infile=1",
            "--max-connections=500",
            "--performance-schema=ON",
        ]
        self.process = Process(f"mariadb:{self.port}", argv, self.directory / "mariadb.log")
        self.process.spawn()
        try:
            _wait_until(self._ready, f"mariadb on port {self.port}", self.process, timeout_s=120)
        except ServiceUnavailable:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        import pymysql

        conn = pymysql.connect(host=HOST, port=self.port, user="root", connect_timeout=2)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        finally:
            conn.close()
        return True

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    @property
    def pid(self) -> int:
        if self.process is None or self.process.pid is None:
            raise ServiceUnavailable("server not started")
        return self.process.pid


def _user() -> str:
    import getpass

    return getpass.getuser()


def start_mariadb(run_dir: Path) -> MariaDB:
    return _with_port_retries(lambda port: MariaDB(run_dir, port).start(), None)


# ---------------------------------------------------------------------- Stack


class ServiceState(TypedDict):
    url: str
    pids: list[int]
    ports: list[int]
    containers: NotRequired[list[str]]


# The program each service needs; when missing, a reachable Docker daemon runs it instead.
PROGRAM_FOR = {
    "redis_cache": "redis-server",
    "redis_queues": "redis-server",
    "redis_cluster": "redis-cli",
    "mariadb": "mariadbd",
}


def _runs_in_docker(name: str) -> bool:
    program = PROGRAM_FOR[name]
    if shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin:/sbin"):
        return False
    from perfcore.stack_docker import docker_client

    try:
        docker_client()
    except ServiceUnavailable:
        return False  # the process backend then names the missing package
    return True


class Stack:
    """The set of services under one run directory, with its state file."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or default_run_dir()
        self.state_file = self.run_dir / "stack.json"

    def read_state(self) -> dict[str, ServiceState]:
        if not self.state_file.exists():
            return {}
        state: dict[str, ServiceState] = json.loads(self.state_file.read_text())
        return state

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
        state = {k: v for k, v in self.read_state().items() if self._alive(v)}
        for name in wanted:
            if name in state:
                continue
            state[name] = self._start(name)
            self._write_state(state)  # record each one at once: a later failure must not orphan it
        self._write_state(state)
        return {name: str(info["url"]) for name, info in state.items()}

    def _start(self, name: str) -> ServiceState:
        if _runs_in_docker(name):
            return _start_in_docker(name)
        directory = self.run_dir / name
        if name == "redis_cache":
            server = start_redis(directory, maxmemory_policy="allkeys-lru")
            return {"url": server.url, "pids": [server.pid], "ports": [server.port]}
        if name == "redis_queues":
            server = start_redis(directory, maxmemory_policy="noeviction")
            return {"url": server.url, "pids": [server.pid], "ports": [server.port]}
        if name == "redis_cluster":
            if directory.exists():  # stale cluster config from a previous run
                shutil.rmtree(directory)
            cluster = start_redis_cluster(directory)
            return {
                "url": cluster.url,
                "pids": [s.pid for s in cluster.servers],
                "ports": [s.port for s in cluster.servers],
            }
        db = start_mariadb(directory)
        return {"url": db.dsn, "pids": [db.pid], "ports": [db.port]}

    @staticmethod
    def _alive(info: ServiceState) -> bool:
        if info.get("containers"):
            from perfcore.stack_docker import container_running

            return all(container_running(cid) for cid in info.get("containers", []))
        pids = info.get("pids") or []
        return bool(pids) and all(_pid_alive(pid) for pid in pids)

    def status(self) -> dict[str, dict[str, object]]:
        return {
            name: {**info, "running": self._alive(info)} for name, info in self.read_state().items()
        }

    def down(self) -> list[str]:
        """Stop every process ``up`` recorded; return the names stopped."""
        state = self.read_state()
        for info in state.values():
            for pid in info.get("pids") or []:
                stop_pid(pid)
            if info.get("containers"):
                from perfcore.stack_docker import remove_containers

                remove_containers(info.get("containers", []))
        if self.state_file.exists():
            self.state_file.unlink()
        return list(state)


def _start_in_docker(name: str) -> ServiceState:
    """Run ``name`` as containers on the host network, waiting for readiness like the processes."""
    from perfcore import stack_docker as docker

    if name == "mariadb":
        port = free_port()
        cid = docker.mariadb_container(port, "perfcore")
        db = MariaDB(Path("/nonexistent"), port)
        _wait_until(db._ready, f"mariadb container on port {port}", timeout_s=180)
        return {"url": db.dsn, "pids": [], "ports": [port], "containers": [cid]}
    cluster = name == "redis_cluster"
    ports = [free_port() for _ in range(3 if cluster else 1)]
    policy = "allkeys-lru" if name == "redis_cache" else "noeviction"
    cids = [
        docker.run_container(docker.REDIS_IMAGE, docker.redis_command(p, policy, cluster))
        for p in ports
    ]
    for port in ports:
        _wait_until(partial(_port_answers, port, b"PING\r\n", b"PONG"), f"redis container {port}")
    if cluster:
        docker.create_cluster(cids[0], ports)
        url = "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in ports)
    else:
        url = f"redis://{HOST}:{ports[0]}/0"
    return {"url": url, "pids": [], "ports": ports, "containers": cids}
