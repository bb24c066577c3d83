"""Child server processes: free ports, start-up waits, and stopping by pid.

:class:`Server` is the base of every local server; subclasses say how to run
(``_argv``) and when they are ready (``_ready``), and inherit ``start``/``stop``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TypeVar

from perfcore.errors import ServiceUnavailable

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


def free_port(below: int = 65536) -> int:
    """A TCP port under ``below`` that was free on loopback a moment ago."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port < below:
            return port
    raise ServiceUnavailable(f"no free loopback port below {below}")


def find_program(name: str) -> str | None:
    """``name`` on PATH or in the sbin directories (where Debian puts daemons)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def require_program(name: str, package: str) -> str:
    """Path of ``name``, or a one-line error naming the package that provides it."""
    found = find_program(name)
    if found is None:
        raise ServiceUnavailable(
            f"{name} not found: install the Debian package {package} "
            f"(sudo apt-get install {package}) or run 'make services'"
        )
    return found


def port_answers(port: int, probe: bytes, expect: bytes) -> bool:
    """Send ``probe`` to the loopback ``port``; True when the reply contains ``expect``."""
    with socket.create_connection((HOST, port), timeout=1.0) as sock:
        if probe:
            sock.sendall(probe)
        return expect in sock.recv(256)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; reaps our own children."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:  # not our child: poll for its exit
            if not pid_alive(pid):
                return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def wait_until(
    check: Callable[[], bool],
    what: str,
    child: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    """Poll ``check`` until it returns True; fail early, with the log tail, if ``child`` exits."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log else []
            raise ServiceUnavailable(
                f"{what} exited at start-up (code {child.returncode}): {' | '.join(tail)}"
            )
        try:
            if check():
                return
        except Exception as exc:  # any failure means "not ready yet"
            last_error = exc
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not become ready in {timeout_s:.0f} s ({last_error})")


# Servers this process started and has not stopped: stop_all() ends them on a
# fatal signal, where no finally block or fixture teardown would run.
_running: dict[int, Server] = {}


def stop_all() -> None:
    """Stop every server this process started (for signal handlers)."""
    for server in list(_running.values()):
        server.stop()


@dataclass
class Server(ABC):
    """A server process on a loopback port, logging to ``<directory>/server.log``."""

    directory: Path
    port: int = field(default_factory=free_port)
    child: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    start_timeout_s: float = field(default=START_TIMEOUT_S, init=False, repr=False)

    @abstractmethod
    def _argv(self) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    def _ready(self) -> bool:
        """True once the server accepts work."""

    def _prepare(self) -> None:  # noqa: B027 - an optional hook, deliberately a no-op
        """Hook: one-off set-up before the first start (data directories)."""

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    @property
    def pid(self) -> int:
        if self.child is None:
            raise ServiceUnavailable(f"{type(self).__name__} on port {self.port} is not running")
        return self.child.pid

    def start(self) -> Self:
        """Start (or restart, on the same port and data) and wait until ready."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prepare()
        with self.log.open("ab") as out:
            # A new session: Ctrl-C in the user's shell must not take the stack down.
            self.child = subprocess.Popen(
                self._argv(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _running[id(self)] = self
        what = f"{type(self).__name__} on port {self.port}"
        try:
            wait_until(self._ready, what, self.child, self.log, self.start_timeout_s)
        except ServiceUnavailable:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _running.pop(id(self), None)
        if self.child is not None:
            if self.child.poll() is None:
                os.kill(self.child.pid, signal.SIGCONT)  # a paused server cannot act on SIGTERM
            stop_pid(self.child.pid)
            self.child.poll()
            self.child = None


T = TypeVar("T")


def with_port_retries(
    start: Callable[[int], T], port: int | None, attempts: int = 3, below: int = 65536
) -> T:
    """Start on ``port``, or on a fresh free port, retrying when another process won the race."""
    if port is not None:
        return start(port)
    for attempt in range(attempts):
        try:
            return start(free_port(below))
        except ServiceUnavailable:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
