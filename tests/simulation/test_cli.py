"""``perfcore simulate`` as a user runs it: the JSON contract, files, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

QUICK = ["--set", "horizon_s=1800", "--set", "workload.events.first_start_h=0.2"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_json_contract_and_files(tmp_path: Path) -> None:
    done = run(*QUICK, "--seed", "2", "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert isinstance(summary["requests"], int) and summary["requests"] > 1000
    assert summary["sim_seconds"] == 1800.0
    for key in ("wall_seconds", "requests_per_wall_second"):
        assert isinstance(summary[key], float) and summary[key] > 0
    assert set(summary["latency_ms"]) >= {"p50", "p95", "p99"}
    assert (
        0
        < summary["latency_ms"]["p50"]
        <= summary["latency_ms"]["p95"]
        <= summary["latency_ms"]["p99"]
    )
    assert set(summary["cache"]) >= {"hit_ratio", "l1_hit_ratio", "l2_hit_ratio"}
    assert all(0.0 <= v <= 1.0 for v in summary["cache"].values())
    replicas = summary["replicas"]
    assert isinstance(replicas["max"], int) and isinstance(replicas["scaling_actions"], int)
    assert replicas["pod_hours"] >= 2 * 0.5  # at least min_replicas for half an hour
    assert isinstance(summary["slo"]["violation_minutes"], float)
    assert set(summary["queues"]) == {"critical", "high", "normal", "low"}
    for q in summary["queues"].values():
        assert isinstance(q["jobs"], int) and isinstance(q["wait_p95_s"], float)

    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["requests"] == summary["requests"]
    with (tmp_path / "timeseries.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30  # one per simulated minute
    for column in (
        "arrivals_register",
        "replicas",
        "cpu_utilisation",
        "p95_ms",
        "hit_ratio",
        "l1_hit_ratio",
        "l2_hit_ratio",
        "db_utilisation",
        "queue_depth_critical",
    ):
        assert column in rows[0], column
    assert sum(int(r["arrivals_total"]) for r in rows) == summary["requests"]
    for png in ("load_replicas.png", "latency.png", "hit_ratios.png", "queue_waits.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_human_summary_and_seed_override(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("seed: 5\nhorizon_s: 1200\nscaling:\n  policy: seed\n")
    done = run(str(scenario), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "requests" in done.stdout and "(seed)" in done.stdout
    assert "p95" in done.stdout
    a = json.loads(run(str(scenario), "--json", "--seed", "9").stdout)
    b = json.loads(run(str(scenario), "--json", "--seed", "9").stdout)
    assert a["seed"] == 9 and a["requests"] == b["requests"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--set", "workload.events.count=-3"], "workload.events.count"),
        (["--set", "scaling.policy=fastest"], "scaling.policy"),
        (["--set", "infrastructure.api.slotz=4"], "infrastructure.api.slotz"),
        (["--set", "cache.default_ttl_s=0"], "cache.default_ttl_s"),
        (["--set", "novalue"], "novalue"),
        (["missing-scenario.yaml"], "missing-scenario.yaml"),
    ],
)
def test_bad_input_exits_2_naming_the_field(args: list[str], field: str) -> None:
    done = run(*args, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], done.stderr
    assert "Traceback" not in done.stderr
