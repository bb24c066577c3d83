"""Which process a recorded pid is: its program and start time, checked before any signal.

A pid in ``stack.json`` outlives the server it named: after the server exits
(or the machine reboots) the kernel hands the number to another process.
``up`` therefore records, with each pid, the process's start time and program
(psutil); ``status`` and ``down`` act on a pid only while the process there
still has both.  Pid 0 and 1 (the scheduler, init) are never ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

# psutil derives the start time from boot time + clock ticks: equal for one
# process, but rounded differently across reads by a few milliseconds.
START_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class ProcessIdentity:
    """What ``up`` recorded about one server process."""

    pid: int
    started: float
    program: str  # the kernel's process name (comm), e.g. "redis-server"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "started": self.started, "program": self.program}


def identify(pid: int) -> ProcessIdentity:
    """The identity of the running process ``pid`` (psutil.Error if it is gone)."""
    # the name, not argv: redis-server rewrites its argv into a status title
    process = psutil.Process(pid)
    return ProcessIdentity(pid, process.create_time(), process.name())


def describe(pid: int) -> str:
    """What runs at ``pid`` now, for messages: ``"no process"`` or its program."""
    try:
        return f"now {psutil.Process(pid).name() or 'a nameless process'}"
    except psutil.NoSuchProcess:
        return "no process"
    except psutil.Error:
        return "another user's process"


def still_ours(recorded: ProcessIdentity | None, pid: int, program: str) -> bool:
    """True while ``pid`` is the process ``up`` started.

    ``recorded`` is None for a state file written before identities were kept:
    then the program name alone must match ``program`` (weaker, never pid 1).
    """
    if pid <= 1:
        return False
    try:
        now = identify(pid)
    except psutil.Error:  # gone, a zombie, or not ours to inspect
        return False
    if recorded is None:
        return now.program.startswith(program)
    return (
        now.program == recorded.program and abs(now.started - recorded.started) <= START_TOLERANCE_S
    )
