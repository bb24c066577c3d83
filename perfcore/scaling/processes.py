"""The local-processes actuator: N copies of a worker command on this machine.

Scaling up starts processes; scaling down stops the newest ones with SIGTERM
(a ``perfcore worker`` finishes its in-flight jobs first) and SIGKILL only
after a grace period. A process that exits on its own is simply no longer
counted, so the loop sees fewer replicas and replaces it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from perfcore.scaling.actuators import ReplicaStatus


class ProcessActuator:
    """Runs ``command`` as separate OS processes, one per replica."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stop_timeout_s: float = 30.0,
        log_dir: Path | None = None,
    ) -> None:
        if not command:
            raise ValueError("command must not be empty")
        self.command = list(command)
        self.env = {**os.environ, **(env or {})}
        self.stop_timeout_s = stop_timeout_s
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.exit_codes: list[int] = []
        self._started = 0

    def pids(self) -> list[int]:
        return [p.pid for p in self._alive()]

    def status(self) -> ReplicaStatus:
        alive = len(self._alive())
        return ReplicaStatus(current=alive, ready=alive)

    def scale(self, replicas: int) -> None:
        alive = self._alive()
        for _ in range(replicas - len(alive)):
            self.procs.append(self._spawn())
        surplus = alive[replicas:] if replicas < len(alive) else []
        # Stop the newest first: older workers have warm caches and connections.
        self._stop(list(reversed(surplus)))

    def close(self) -> None:
        self._stop(list(reversed(self._alive())))

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._started += 1
        if self.log_dir is None:
            return self._popen(subprocess.DEVNULL)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"worker-{self._started}.log").open("ab") as log:
            return self._popen(log)

    def _popen(self, output: int | IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # A new session: a Ctrl-C meant for the loop must not also hit the workers.
            start_new_session=True,
        )

    def _stop(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._alive()

    def _alive(self) -> list[subprocess.Popen[bytes]]:
        alive = []
        for proc in self.procs:
            code = proc.poll()
            if code is None:
                alive.append(proc)
            else:
                self.exit_codes.append(code)
        self.procs = alive
        return list(alive)
