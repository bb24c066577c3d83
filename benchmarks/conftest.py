"""Benchmark session plumbing: the stack fixtures, and a ratio table printed at the end.

Targets are ratios against a baseline measured side by side in the same session
(these machines are noisy), never absolute times.  A benchmark records a ratio
with ``report_ratio(name, value, target, better="lower")``; the table is printed
in pytest's terminal summary and written to ``reports/benchmarks.json``; a
missed target makes the run exit 1, so ``make bench`` is a regression gate.
A ratio is computed from the stats pytest-benchmark recorded for both sides
(the numbers of its table), never from timings of its own.

The instruction-count gate (test_gate.py, gate.py) adds two hooks: its group
is shown in nanoseconds, i.e. one instruction per ns, and every saved run
records the machine class and the versions of the packages whose code it counts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pytest
from gate import machine_class
from instructions import GROUP as INSTRUCTION_GROUP
from pytest_benchmark.session import PerformanceRegression

pytest_plugins = ["perfcore.testing"]

_RATIOS: list[dict[str, Any]] = []

RatioRecorder = Callable[..., None]


@pytest.fixture(scope="session")
def report_ratio() -> RatioRecorder:
    """Record ``name = value`` with its target; ``better`` says which side passes."""

    def record(
        name: str,
        value: float,
        target: float,
        better: Literal["lower", "higher"] = "lower",
        detail: str = "",
    ) -> None:
        ok = value <= target if better == "lower" else value >= target
        _RATIOS.append(
            {
                "name": name,
                "value": value,
                "target": target,
                "better": better,
                "ok": ok,
                "detail": detail,
            }
        )

    return record


@pytest.fixture(scope="session")
def recorded() -> dict[str, Any]:
    """``test name -> benchmark.stats.stats``: what pytest-benchmark recorded, for ratios between tests."""
    return {}


@pytest.fixture(scope="session")
def report_median_ratio(recorded: dict[str, Any], report_ratio: RatioRecorder) -> RatioRecorder:
    """Record the ratio of this benchmark's median to ``baseline``'s (a test that ran earlier).

    Both medians are pytest-benchmark's recorded stats, the numbers of its
    table.  ``speedup=True`` records baseline/ours (higher is better) instead;
    ``per`` divides the medians shown in the detail (e.g. lookups per round).
    """

    def record(
        benchmark: Any,
        baseline: str,
        name: str,
        target: float,
        *,
        speedup: bool = False,
        per: int = 1,
        detail: str = "",
    ) -> None:
        ours = recorded[benchmark.name] = benchmark.stats.stats
        if baseline not in recorded:
            pytest.fail(
                f"{baseline} did not run before this test: the ratio needs its stats", pytrace=False
            )
        base = recorded[baseline]
        ratio = base.median / ours.median if speedup else ours.median / base.median
        scale, unit = (1e6 / per, f"us per call, {per} calls a round") if per > 1 else (1.0, "s")
        medians = (
            f"medians: ours {ours.median * scale:,.3f}, baseline {base.median * scale:,.3f}"
            f" {unit} ({ours.rounds} and {base.rounds} rounds)"
        )
        report_ratio(
            name,
            ratio,
            target,
            better="higher" if speedup else "lower",
            detail="; ".join(filter(None, [medians, detail])),
        )
        print(f"\n{name}: {ratio:.3f} [{medians}]")

    return record


# Their code is what the counts measure: a new version moves the counts.
COUNTED_PACKAGES = ["numpy", "simpy", "pydantic", "sqlglot", "redis", "cachetools"]


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    valgrind = shutil.which("valgrind")
    machine_info["perfcore"] = {
        "machine_class": machine_class(),
        "valgrind": valgrind
        and subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip(),
        "packages": {name: metadata.version(name) for name in COUNTED_PACKAGES},
    }


def pytest_benchmark_scale_unit(
    unit: str, benchmarks: list[dict[str, Any]]
) -> tuple[str, float] | None:
    # Instruction counts ride in pytest-benchmark's seconds at 1e-9 each: show them in ns.
    if unit == "seconds" and all(b["group"] == INSTRUCTION_GROUP for b in benchmarks):
        return "n", 1e9
    return None


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter: Any) -> Any:
    # pytest-benchmark reports a regression with its own lines, then raises out
    # of the summary (a traceback); the verdict is the exit status alone.
    result = None
    try:
        result = yield
    except PerformanceRegression:
        terminalreporter.config.pluginmanager.get_plugin("session").exitstatus = 1
    _print_ratios(terminalreporter)
    return result


def _print_ratios(terminalreporter: Any) -> None:
    if not _RATIOS:
        return
    terminalreporter.section("perfcore benchmark ratios")
    for row in _RATIOS:
        sign = "<=" if row["better"] == "lower" else ">="
        verdict = "ok" if row["ok"] else "MISSED"
        line = f"{row['name']}: {row['value']:.3f} (target {sign} {row['target']}) {verdict}"
        terminalreporter.write_line(line + (f"  [{row['detail']}]" if row["detail"] else ""))
    out = Path(__file__).resolve().parent.parent / "reports" / "benchmarks.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update({row["name"]: row for row in _RATIOS})
    out.write_text(json.dumps(previous, indent=2))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A missed target is a failed gate: exit 1, like a failed check anywhere else.
    if exitstatus == 0 and any(not row["ok"] for row in _RATIOS):
        session.exitstatus = 1
