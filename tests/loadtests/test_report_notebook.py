"""The simulation report notebook runs top to bottom in a Jupyter kernel, on a short scenario."""

from __future__ import annotations

import json
from pathlib import Path

from notebook_kernel import execute

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
    run = execute(
        "simulation_report",
        env={"PERFCORE_SET": SHORT, "PERFCORE_LOADTEST_SUMMARY": str(tmp_path / "summary.json")},
        cwd=tmp_path,
        timeout=300,
    )
    out = run.text
    assert "simulated hours" in out and '"latency_ms"' in out
    assert "GET /events/{event_id}" in out and "event_detail" in out
    assert "all requests, simulated:" in out
    assert run.images >= 5  # load, latency, replicas and CPU, hit ratios, queues
