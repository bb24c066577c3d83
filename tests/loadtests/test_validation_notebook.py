"""The validation notebook executes through a Jupyter kernel (nbclient) into reports/."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from perfcore.service.metrics import LATENCY_BUCKETS

REPO = Path(__file__).resolve().parents[2]


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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _measured_run(tmp_path / "run")
    notebook = jupytext.read(REPO / "notebooks" / "validation_report.py")
    reports = tmp_path / "reports"
    env = {"PERFCORE_MEASURED": str(tmp_path / "run"), "PERFCORE_REPORT_DIR": str(reports),
           "MPLBACKEND": "Agg"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    client = NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    nbformat.write(notebook, reports / "validation_report.ipynb")
    text = "".join(
        o.get("text", "")
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "GET /events/{event_id}" in text and "overall" in text
    assert (reports / "validation_over_time.png").stat().st_size > 1000
