"""Benchmark session plumbing: the stack fixtures, and a ratio table printed at the end.

Targets are ratios against a baseline measured side by side in the same session
(these machines are noisy), never absolute times.  A benchmark records a ratio
with ``report_ratio(name, value, target, better="lower")``; the table is printed
in pytest's terminal summary and written to ``reports/benchmarks.json``; a
missed target makes the run exit 1, so ``make bench`` is a regression gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

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


def pytest_terminal_summary(terminalreporter: Any) -> None:
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
