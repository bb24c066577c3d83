"""The regression gate: save, check and A/B-compare the instruction-count suite (test_gate.py).

* ``save``: run the suite and store it with ``--benchmark-autosave`` in the
  committed baseline folder of this machine class, ``benchmarks/baselines/<class>``;
* ``check``: run it again with ``--benchmark-compare`` (the latest saved run)
  and ``--benchmark-compare-fail=median:10%``: pytest-benchmark's own verdict,
  exit 1 on a regression.  Every benchmark of the run must have a baseline;
* ``compare --ref REF``: build ``REF`` in a git worktree, save the suite run on
  REF's code into a scratch folder, then check this tree against it.

A machine class is the CPU architecture and the Python implementation and
version (``x86_64-cpython3.11``): instruction counts carry over between
machines of one class, not across them.  With no baseline for this class the
check fails under ``CI=true`` and is skipped, with a warning, elsewhere.
Run: ``make bench-save``, ``make bench-check``, ``make bench-compare REF=main``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINES = HERE / "baselines"
SUITE = HERE / "test_gate.py"
# A 25 % slowdown must be caught; counts repeat to within 1 % (the Redis-backed
# ones) and exactly (the CPU-bound ones), so 10 % leaves room on both sides.
FAIL_IF = "median:10%"


def machine_class() -> str:
    version = ".".join(platform.python_version_tuple()[:2])
    return f"{platform.machine()}-{sys.implementation.name}{version}"


def pytest_machine_id() -> str:
    """The sub-folder pytest-benchmark's file storage uses (its ``get_machine_id``)."""
    from pytest_benchmark.utils import get_machine_id

    return str(get_machine_id())  # type: ignore[no-untyped-call]


def saved_runs(storage: Path) -> list[Path]:
    """Saved runs in pytest-benchmark's order; the last one is what ``--benchmark-compare`` loads."""
    return sorted((storage / pytest_machine_id()).glob("[0-9][0-9][0-9][0-9]_*.json"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest(storage: Path, *args: str, env: dict[str, str] | None = None) -> int:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(SUITE),
        "-q",
        f"--benchmark-storage=file://{storage}",
        "--benchmark-columns=median,rounds",
        "--benchmark-sort=name",
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def save(storage: Path, extra: list[str], env: dict[str, str] | None = None) -> int:
    return pytest(storage, "--benchmark-autosave", *extra, env=env)


def check(storage: Path, extra: list[str]) -> int:
    runs = saved_runs(storage)
    if not runs:
        have = ", ".join(sorted(p.name for p in BASELINES.iterdir() if p.is_dir())) or "none"
        message = (
            f"no baseline for machine class {machine_class()} in {storage} (have: {have});"
            " run `make bench-save` on this class and commit it, or `make bench-compare REF=<ref>`"
        )
        if in_ci():
            print(f"bench-check: error: {message}", file=sys.stderr)
            return 1
        print(f"bench-check: warning: {message}; the gate did not run", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="perfcore-gate-") as tmp:
        report = Path(tmp) / "run.json"
        code = pytest(
            storage,
            "--benchmark-compare",
            f"--benchmark-compare-fail={FAIL_IF}",
            f"--benchmark-json={report}",
            *extra,
        )
        missing = unmatched(report, runs[-1]) if report.exists() else []
    if missing:
        print(
            f"bench-check: error: no baseline entry in {runs[-1].name} for: {', '.join(missing)};"
            " run `make bench-save` and commit the new baseline",
            file=sys.stderr,
        )
        return 1
    return code


def unmatched(report: Path, baseline: Path) -> list[str]:
    """Benchmarks of this run that the baseline does not have (they would go unchecked)."""
    return sorted(_names(report) - _names(baseline))


def _names(run: Path) -> set[str]:
    data: dict[str, Any] = json.loads(run.read_text())
    return {bench["fullname"] for bench in data["benchmarks"]}


def compare(ref: str, extra: list[str]) -> int:
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        print(
            f"bench-compare: error: REF: {ref!r} is not a commit of this repository",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="perfcore-ab-") as tmp:
        tree, storage = Path(tmp) / "ref", Path(tmp) / "storage"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), found.stdout.strip()],
            cwd=ROOT,
            check=True,
        )
        try:
            # The suite and harness of this tree, perfcore and simulation of REF.
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(HERE)])}
            print(f"bench-compare: counting {ref} ({found.stdout.strip()[:12]})", file=sys.stderr)
            code = save(storage, extra, env)
            if code != 0:
                print(f"bench-compare: error: the suite failed on {ref}", file=sys.stderr)
                return code
            print("bench-compare: counting this tree", file=sys.stderr)
            return check(storage, extra)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/gate.py", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["save", "check", "compare"])
    parser.add_argument("--ref", help="compare: the git ref to compare this tree with")
    parser.epilog = "Arguments after -- go to pytest, e.g. -- -k simulation."
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser.parse_args(argv[:split]), argv[split + 1 :]
    storage = BASELINES / machine_class()
    if args.action == "compare":
        if not args.ref:
            parser.error("compare needs --ref REF")
        return compare(args.ref, extra)
    if args.ref:
        parser.error("--ref only goes with compare")
    return save(storage, extra) if args.action == "save" else check(storage, extra)


if __name__ == "__main__":
    sys.exit(main())
