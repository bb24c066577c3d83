"""The measured stack's processes: where they run (CPU pinning) and the CPU each one used.

A run of the fidelity experiment is only as good as what it knows about the
machine: every process of the stack (MariaDB, both Redis servers, the server,
the job worker) is sampled from ``/proc/<pid>/stat`` (user + system CPU, all
threads) and ``/proc/<pid>/task/*/schedstat`` (time running and time waiting
in the run queue, summed over threads) before and after each load test; the
difference goes to ``stack_cpu.json`` in the run directory, which
``perfcore calibrate`` reads as server-side truth. Pinning puts the stack on
one set of CPUs and the load generator on another, so the measured deployment
owns its cores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
STACK_CPU = "stack_cpu.json"


@dataclass(frozen=True)
class Pinning:
    """CPUs for the stack's processes and for the load generator (empty: the kernel decides)."""

    stack: frozenset[int] = frozenset()
    locust: frozenset[int] = frozenset()
    stack_env: tuple[tuple[str, str], ...] = ()  # extra environment of the stack's processes

    @staticmethod
    def parse_cpus(text: str | None) -> frozenset[int]:
        """``"1"`` or ``"0,2-3"`` -> {1} / {0, 2, 3}."""
        cpus: set[int] = set()
        for part in (text or "").split(","):
            if not part.strip():
                continue
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
        return frozenset(cpus)

    def stack_env_of(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, **dict(self.stack_env)}

    def preexec(self, cpus: frozenset[int]) -> Callable[[], None] | None:
        """A ``preexec_fn`` that pins the child to ``cpus`` (None when not pinning)."""
        if not cpus:
            return None

        def pin() -> None:
            os.sched_setaffinity(0, cpus)

        return pin

    def describe(self) -> dict[str, object]:
        return {
            "stack_cpus": sorted(self.stack),
            "locust_cpus": sorted(self.locust),
            "stack_env": [k for k, _ in self.stack_env],
        }


@dataclass(frozen=True)
class Sample:
    cpu_s: float  # user + system, all threads
    run_s: float  # on a CPU, from schedstat
    wait_s: float  # runnable but waiting for a CPU


def sample(pid: int) -> Sample | None:
    """One process's CPU counters now (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces: fields count from after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) * TICK_S
    run = wait = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            on, waited, _ = task.read_text().split()
        except (OSError, ValueError):
            continue
        run += int(on) / 1e9
        wait += int(waited) / 1e9
    return Sample(cpu, run, wait)


def cpu_busy_s(cpus: frozenset[int]) -> float:
    """Busy seconds (all but idle and iowait) of ``cpus`` since boot (``/proc/stat``)."""
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(f) for f in fields[:8]]
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy * TICK_S


def snapshot(pids: Mapping[str, int], cpus: frozenset[int] = frozenset()) -> dict[str, Sample]:
    """Each process's counters; with ``cpus``, also those CPUs' busy time as ``"(cpus)"``."""
    out = {}
    for name, pid in pids.items():
        s = sample(pid)
        if s is not None:
            out[name] = s
    if cpus:
        # Everything the pinned CPUs did (other processes, interrupts), against the stack's.
        out["(cpus)"] = Sample(cpu_busy_s(cpus), 0.0, 0.0)
    return out


def delta(before: Mapping[str, Sample], after: Mapping[str, Sample]) -> dict[str, dict[str, float]]:
    """Per process: CPU seconds, run and run-queue wait seconds between the two snapshots.

    Run-queue wait is summed over threads; a process gone or (re)started in
    between is left out.
    """
    out = {}
    for name, a in after.items():
        b = before.get(name)
        if b is None or a.cpu_s < b.cpu_s:
            continue
        out[name] = {
            "cpu_s": round(a.cpu_s - b.cpu_s, 3),
            "run_s": round(a.run_s - b.run_s, 4),
            "wait_s": round(a.wait_s - b.wait_s, 4),
        }
    return out


def write(
    directory: Path,
    cpu: dict[str, dict[str, float]],
    wall_s: float,
    pins: Pinning,
    idle: tuple[dict[str, dict[str, float]], float] | None = None,
) -> None:
    """``stack_cpu.json``: the run's deltas, and those of an idle spell before it (no traffic)."""
    cpu = dict(cpu)
    busy = cpu.pop("(cpus)", None)
    data: dict[str, object] = {
        "wall_s": round(wall_s, 2),
        "processes": cpu,
        "pinning": pins.describe(),
    }
    if busy is not None:  # the pinned CPUs' whole busy time: the stack's and anything else's
        data["pinned_cpus_busy_s"] = busy["cpu_s"]
    if idle is not None:
        quiet = dict(idle[0])
        quiet_busy = quiet.pop("(cpus)", None)
        data["idle"] = {
            "wall_s": round(idle[1], 2),
            "processes": quiet,
            "pinned_cpus_busy_s": quiet_busy["cpu_s"] if quiet_busy else None,
        }
    (directory / STACK_CPU).write_text(json.dumps(data, indent=2) + "\n")


def locust_cpu_warnings(directory: Path) -> int:
    """How often Locust said its own CPU was saturated during the run (its log)."""
    log = directory / "locust.log"
    if not log.is_file():
        return 0
    return sum("CPU usage" in line for line in log.read_text(errors="replace").splitlines())
