"""The report notebook runs top to bottom (as a plain script: percent format is valid Python)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHORT = ";".join(
    [
        "horizon_s=3600",
        "workload.events.count=10",
        "workload.events.total_attendees=2000",
        "workload.events.first_start_h=0.5",
        "workload.events.last_start_h=0.8",
    ]
)


def test_notebook_runs_a_short_scenario_and_reads_a_loadtest_summary(tmp_path: Path) -> None:
    summary = {
        "latency_ms": {"p50": 4.0, "p95": 30.0, "p99": 55.0},
        "endpoints": {
            "GET /events/{event_id}": {
                "requests": 120,
                "latency_ms": {"p50": 4.0, "p95": 30.0, "p99": 55.0},
            }
        },
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PERFCORE_SET": SHORT,
        "PERFCORE_LOADTEST_SUMMARY": str(tmp_path / "summary.json"),
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "notebooks" / "simulation_report.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "simulated hours" in out and '"latency_ms"' in out
    assert "GET /events/{event_id}" in out and "event_detail" in out
    assert "all requests, simulated:" in out
