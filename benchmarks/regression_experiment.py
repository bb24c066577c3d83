"""Proof that the gate works: inject a known slowdown into one path and run the gate repeatedly.

Each trial is one ``benchmarks/gate.py check`` of the chosen workload against
the committed baseline, exactly as ``make bench-check`` runs it: once with
``PERFCORE_BENCH_INJECT_SLOWDOWN`` (that path does 25 % more of its own work,
see :mod:`instructions`) and once unchanged, alternating, so whatever else the
machine does falls on both kinds alike.  A trial is *caught* when the gate
exits 1 and *passes* when it exits 0; anything else (a crash, no baseline)
stops the experiment.  Prints both rates; exit 1 unless the slowdown is caught
at least 19 times in 20 and the unchanged build passes at least 19 times in 20.

Run: ``.venv/bin/python benchmarks/regression_experiment.py --into cache_l1``
(30 to 90 s a trial on a loaded 2-core machine); ``--into cache_l2`` for the
Redis-backed path; any workload of :mod:`workloads` works (``simulation`` is
the slowest, several minutes a trial under load).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from instructions import INJECT_INTO, INJECT_SLOWDOWN
from workloads import WORKLOADS

GATE = Path(__file__).resolve().parent / "gate.py"


def selector(name: str) -> str:
    """A ``-k`` expression for exactly workload ``name`` (cache_l1 is inside ttlcache_l1)."""
    others = [other for other in WORKLOADS if other != name and name in other]
    return " and ".join([name, *(f"not {other}" for other in others)])


def trial(name: str, slowdown: float | None) -> bool:
    """True when the gate failed the run (a regression was reported)."""
    env = {**os.environ}
    env.pop(INJECT_SLOWDOWN, None)
    if slowdown is not None:
        env.update({INJECT_SLOWDOWN: str(slowdown), INJECT_INTO: name})
    command = [sys.executable, str(GATE), "check", "--", "-k", selector(name)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or "no baseline" in proc.stderr:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
        raise SystemExit(f"regression_experiment: the gate could not run: {tail}")
    if proc.returncode == 1 and "Performance has regressed" not in proc.stdout + proc.stderr:
        output = (proc.stdout + proc.stderr)[-2000:]
        raise SystemExit(f"regression_experiment: the gate failed for another reason:\n{output}")
    return proc.returncode == 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--into", choices=sorted(WORKLOADS), default="cache_l1")
    parser.add_argument("--slowdown", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    caught = passed = 0
    for run in range(1, args.runs + 1):
        caught += trial(args.into, args.slowdown)
        passed += not trial(args.into, None)
        print(f"[{run}/{args.runs}] caught {caught}, passed {passed}", file=sys.stderr, flush=True)
    need = args.runs - args.runs // 20
    print(f"{args.into}: {args.slowdown:.0%} slowdown caught {caught}/{args.runs}")
    print(f"{args.into}: unchanged build passed {passed}/{args.runs}")
    return 0 if caught >= need and passed >= need else 1


if __name__ == "__main__":
    sys.exit(main())
