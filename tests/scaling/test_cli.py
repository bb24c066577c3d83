"""``perfcore scale decide`` and ``perfcore scale run --dry-run`` from the outside."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def perfcore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args], capture_output=True, text=True, timeout=60
    )


def decide(policy: str, state: dict[str, Any]) -> dict[str, Any]:
    done = perfcore("scale", "decide", "--policy", policy, "--state", json.dumps(state), "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_decide_prints_one_decision_as_json() -> None:
    out = decide("seed", {"current_replicas": 3, "metrics": {"cpu": 0.95, "memory": 0.2}})
    assert (out["action"], out["replicas"], out["policy"]) == ("scale_up", 6, "seed")
    assert "high utilisation" in out["reason"]


def test_decide_replays_history_from_the_previous_output() -> None:
    targets = {"target_cpu": 0.5, "min_replicas": 1}
    first = decide(
        "target-tracking",
        {"now": 0, "current_replicas": 10, "metrics": {"cpu": 0.5}, "targets": targets},
    )
    state = {"now": 60, "current_replicas": 10, "metrics": {"cpu": 0.1}, "targets": targets}
    held = decide("target-tracking", {**state, "history": first["history"]})
    assert held["replicas"] == 10 and "held" in held["reason"]
    fresh = decide("target-tracking", state)  # no memory of the busy minute: scale down now
    assert fresh["replicas"] == 2


def test_decide_rejects_bad_state_with_exit_2_and_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text(json.dumps({"current_replicas": 2, "metrics": {"cpu": "hot"}}))
    done = perfcore("scale", "decide", "--policy", "seed", "--state", f"@{bad}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: state.metrics.cpu: Input should be a valid number, unable to parse string as a number"
    ]


def test_run_dry_run_with_local_processes_starts_nothing(tmp_path: Path) -> None:
    done = perfcore(
        *("scale", "run", "--policy", "seed", "--actuator", "processes", "--dry-run"),
        *("--interval", "0.1", "--max-steps", "3", "--json", "--out", str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["steps"] == 3 and summary["dry_run"] is True
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["current_replicas"] == 2 for line in lines)  # min_replicas
