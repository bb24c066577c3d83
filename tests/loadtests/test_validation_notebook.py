"""The validation notebook executes through a Jupyter kernel (nbclient) into reports/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from notebook_kernel import execute
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from perfcore.service.metrics import LATENCY_BUCKETS


def _measured_run(directory: Path) -> None:
    """A small measured run as perfcore loadtest --out leaves it (server metrics, Locust stats)."""
    directory.mkdir()
    reg = CollectorRegistry()
    http = Histogram("perfcore_http_request_duration_seconds", "x", ["method", "route"],
                     buckets=LATENCY_BUCKETS, registry=reg)  # fmt: skip
    res = Counter("perfcore_route_cache_results", "x", ["route", "result"], registry=reg)
    (directory / "metrics_before.prom").write_bytes(generate_latest(reg))
    for i in range(300):
        http.labels("GET", "/events/{event_id}").observe(0.002 + 0.00001 * i)
    res.labels("/events/{event_id}", "hit").inc(260)
    res.labels("/events/{event_id}", "miss").inc(40)
    (directory / "metrics_after.prom").write_bytes(generate_latest(reg))
    entry = {"name": "/events/{event_id}", "method": "GET", "start_time": 1000.0,
             "last_request_timestamp": 1030.0, "num_requests": 300, "num_failures": 0,
             "response_times": {"3": 150, "5": 150},
             "num_reqs_per_sec": {str(1000 + s): 10 for s in range(30)}}  # fmt: skip
    (directory / "locust_final.json").write_text(json.dumps([entry]))


@pytest.mark.slow
def test_validation_notebook_executes_in_a_kernel(
    tmp_path: Path,
) -> None:
    _measured_run(tmp_path / "run")
    reports = tmp_path / "reports"
    run = execute(
        "validation_report",
        env={"PERFCORE_MEASURED": str(tmp_path / "run"), "PERFCORE_REPORT_DIR": str(reports)},
        timeout=240,
    )
    text = run.text
    assert "GET /events/{event_id}" in text and "overall" in text
    assert (reports / "validation_over_time.png").stat().st_size > 1000
    assert run.images >= 2  # per endpoint, and over time
