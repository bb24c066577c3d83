"""Instruction counts of one workload under ``valgrind --tool=callgrind``: the gate's measure.

Wall-clock time on a shared 2-core machine moves with whatever else runs;
the number of instructions a deterministic workload executes does not.  The
parent (:func:`count_instructions`) runs ``python instructions.py NAME`` under
callgrind; the child builds the workload (not counted), then runs its steps
inside a ctypes callback.  Callgrind collects only inside ``closure_fcn``
(ctypes' entry into a Python callback, ``--toggle-collect``), so imports,
set-up and interpreter start-up are left out and the count is that of the
steps alone (valgrind even runs them uninstrumented, see
:func:`count_instructions`).  ``PYTHONHASHSEED=0`` fixes set and dict orders, and a
``gc.collect()`` before the steps makes collections fall at the same points.

Injected slowdown (for the experiment that proves the gate):
``PERFCORE_BENCH_INJECT_SLOWDOWN=0.25 PERFCORE_BENCH_INJECT_INTO=simulation``
runs 25 % more steps of that one workload, i.e. 25 % more of the same work.
Unset, nothing changes.  ``python benchmarks/instructions.py simulation`` runs
one natively (a quick check that it works).
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import WORKLOADS

INJECT_SLOWDOWN = "PERFCORE_BENCH_INJECT_SLOWDOWN"
INJECT_INTO = "PERFCORE_BENCH_INJECT_INTO"
MARKER = "closure_fcn"  # ctypes' C entry point into a Python callback (Modules/_ctypes)
TIMEOUT_S = 600
GROUP = "instructions"  # the pytest-benchmark group of the counts


class GateError(RuntimeError):
    """The measurement itself failed (not a regression): valgrind missing, a child crashed."""


def parse_injection(environ: Mapping[str, str]) -> tuple[str, float] | None:
    """``(workload, fraction)`` asked for by the environment, or None when nothing is injected."""
    raw = environ.get(INJECT_SLOWDOWN)
    if not raw:
        return None
    target = environ.get(INJECT_INTO, "")
    if target not in WORKLOADS:
        raise ValueError(f"{INJECT_INTO}: {target!r} is not one of {', '.join(WORKLOADS)}")
    try:
        fraction = float(raw)
    except ValueError:
        raise ValueError(f"{INJECT_SLOWDOWN}: {raw!r} is not a number") from None
    if not 0 <= fraction <= 10:
        raise ValueError(f"{INJECT_SLOWDOWN}: {raw!r} is not between 0 and 10")
    return target, fraction


def run_steps(name: str, injection: tuple[str, float] | None, wait: bool) -> None:
    """The child: build workload ``name``, then run its steps inside the counted callback."""
    workload = WORKLOADS[name]()
    steps = workload.steps
    if injection is not None and injection[0] == name:
        steps += round(workload.steps * injection[1])
    workload.step()  # warm lazy imports and caches outside the count
    failure: list[BaseException] = []

    def measured() -> None:
        try:
            for _ in range(steps):
                workload.step()
        except BaseException as exc:  # ctypes would print and swallow it
            failure.append(exc)

    callback = ctypes.CFUNCTYPE(None)(measured)
    if wait:
        _wait_for_go()
    gc.collect()
    callback()
    if failure:
        raise failure[0]


def programs() -> tuple[str, str]:
    """valgrind and callgrind_control, or :class:`GateError` naming what is missing."""
    found = shutil.which("valgrind"), shutil.which("callgrind_control")
    if found[0] is None or found[1] is None:
        raise GateError("valgrind is not installed (scripts/ensure-services installs it as root)")
    return found[0], found[1]


def count_instructions(name: str, extra_env: Mapping[str, str] | None = None) -> int:
    """Instructions executed by the steps of workload ``name``, counted by callgrind.

    Valgrind starts with instrumentation off (imports run about 4x faster than
    instrumented); once the child has built its workload it says ``ready``,
    ``callgrind_control -i on`` switches instrumentation on, and ``go`` lets
    the steps run.  Only the steps are collected either way.
    """
    valgrind, control = programs()
    env = {**os.environ, **(extra_env or {}), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="perfcore-callgrind-") as tmp:
        out, log = Path(tmp) / "callgrind.out", Path(tmp) / "stderr"
        command = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--toggle-collect={MARKER}",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(Path(__file__).resolve()),
            name,
            "--wait",
        ]
        with (
            log.open("w") as err,
            subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            ) as proc,
        ):
            assert proc.stdin is not None and proc.stdout is not None
            try:
                if _line(proc, TIMEOUT_S) == "ready":
                    subprocess.run(
                        [control, "--instr=on", str(proc.pid)],
                        capture_output=True,
                        check=True,
                        timeout=60,
                    )
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                proc.wait(TIMEOUT_S)
            except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
                proc.kill()
                raise GateError(f"{name}: no result under callgrind ({exc})") from None
        if proc.returncode != 0:
            lines = [line for line in log.read_text().splitlines() if not line.startswith("==")]
            raise GateError(f"{name}: the workload failed: {(lines or ['?'])[-1]}")
        found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if found is None or int(found.group(1)) == 0:
        raise GateError(f"{name}: callgrind counted nothing (is {MARKER} in this Python's ctypes?)")
    return int(found.group(1))


def _line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The child's next line on stdout ("" when it exits first), within ``timeout_s``."""
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], timeout_s)[0]:
        raise subprocess.TimeoutExpired(proc.args, timeout_s)
    return proc.stdout.readline().strip()


def _wait_for_go() -> None:
    # Poll rather than block in read(): valgrind serves callgrind_control
    # between basic blocks, and a blocked process runs none without ptrace.
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 0.01)[0]:
        pass
    sys.stdin.readline()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (1, 2) or args[0] not in WORKLOADS or args[1:] not in ([], ["--wait"]):
        print(f"usage: instructions.py {{{','.join(WORKLOADS)}}} [--wait]", file=sys.stderr)
        sys.exit(2)
    try:
        injection = parse_injection(os.environ)
    except ValueError as exc:
        print(f"instructions.py: {exc}", file=sys.stderr)
        sys.exit(2)
    run_steps(args[0], injection, wait=args[1:] == ["--wait"])
