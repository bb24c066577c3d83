"""A real, short Locust run against ``perfcore serve`` in a subprocess, and the loopback guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_process import serving

from perfcore.service.auth import SECRET_ENV, mint
from perfcore.service.load_shape import CHECKIN, DRAIN, REGISTRATION, phase_at
from perfcore.stack import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = os.environ[SECRET_ENV]  # the suite's key (tests/conftest.py)
PERFCORE = [sys.executable, "-m", "perfcore"]


@pytest.fixture(scope="module")
def service_url(redis_cache_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``perfcore serve`` on a free loopback port, SQLite database, the stack's cache Redis."""
    work = tmp_path_factory.mktemp("serve")
    args = ["--db", f"sqlite:///{work / 'svc.sqlite'}", "--redis", redis_cache_url]
    args += ["--set", f"cache.key_prefix=lt{free_port()}"]
    args += ["--set", f"queues.export_dir={work / 'exports'}"]
    args += ["--set", f"service.auth_secret={SECRET}"]
    with serving(work, *args) as (url, _):
        yield url


@pytest.mark.redis
@pytest.mark.slow
def test_short_locust_run_has_requests_and_no_failures(service_url: str, tmp_path: Path) -> None:
    out = tmp_path / "lt"
    result = subprocess.run(
        [
            *PERFCORE,
            "loadtest",
            "--host",
            service_url,
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--run-time",
            "6s",
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, SECRET_ENV: SECRET},  # the users sign their tokens with it
    )
    assert result.returncode == 0, result.stderr + (out / "locust.log").read_text()
    summary = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert summary["requests"] > 0 and summary["failures"] == 0
    assert summary["endpoints"]["GET /events/active"]["requests"] >= 4  # every user's on_start
    p = summary["latency_ms"]
    assert 0 < p["p50"] <= p["p95"] <= p["p99"]
    assert json.loads((out / "summary.json").read_text())["requests"] == summary["requests"]
    # The service counted what Locust sent (its own view, from /metrics).
    operator = {"Authorization": f"Bearer {mint(SECRET.encode(), 'operator')}"}
    metrics = httpx.get(f"{service_url}/metrics", headers=operator).text
    assert 'route="/events/active"' in metrics


@pytest.mark.parametrize("host", ["http://10.0.0.1", "http://example.com:8000"])
def test_cli_refuses_a_non_loopback_host(host: str) -> None:
    result = subprocess.run(
        [*PERFCORE, "loadtest", "--host", host, "--run-time", "5s", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "not a loopback address" in result.stderr and "Traceback" not in result.stderr


def test_cli_refuses_an_unbounded_run_time() -> None:
    result = subprocess.run(
        [*PERFCORE, "loadtest", "--host", "http://127.0.0.1:1", "--run-time", "2h"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "--run-time" in result.stderr


def test_locustfile_itself_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    # Run directly, without the CLI's check: the locustfile must stop before any request.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "loadtests" / "locustfile.py"),
            "--headless",
            "--host",
            "http://10.0.0.1",
            "-u",
            "1",
            "-r",
            "1",
            "-t",
            "3s",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "10.0.0.1 is not a loopback address" in result.stderr


def test_shape_ramps_registrations_then_spikes_check_ins_and_ends() -> None:
    total, peak = 100.0, 40
    ramp = [phase_at(t, total, peak) for t in range(0, 50, 5)]
    users = [now[0] for now in ramp if now is not None]
    assert users == sorted(users) and users[0] == 1 and users[-1] <= peak // 2
    assert all(now is not None and now[1] == REGISTRATION for now in ramp)
    assert phase_at(60, total, peak) == (peak, CHECKIN)
    assert phase_at(90, total, peak) == (peak // 4, DRAIN)
    assert phase_at(total, total, peak) is None  # bounded: the shape ends the test


def test_failures_fail_the_gate_with_the_summary_still_printed() -> None:
    # Nothing listens on this port: every request fails, and is counted (not a crashed user).
    result = subprocess.run(
        [
            *PERFCORE,
            "loadtest",
            "--host",
            f"http://127.0.0.1:{free_port()}",
            "--users",
            "2",
            "--run-time",
            "3s",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["requests"] > 0 and summary["failures"] == summary["requests"]
    assert "failure ratio 1.0000" in result.stderr


SMALL_SCENARIO = """
horizon_s: 600
workload:
  events: {count: 0}
  timed_jobs: []
  streams:
    - {request_class: event_detail, rate_per_s: 10, keys: 40}
    - {request_class: session_page, rate_per_s: 6, keys: 300}
    - {request_class: register, rate_per_s: 2, keys: 2000}
loadtest: {user_rate_per_s: 2.0}
"""


@pytest.mark.redis
@pytest.mark.slow
def test_scenario_loadtest_sends_the_plans_open_loop_load(service_url: str, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SMALL_SCENARIO)
    out = tmp_path / "lt"
    result = subprocess.run(
        [
            *PERFCORE,
            "loadtest",
            "--host",
            service_url,
            "--scenario",
            str(tmp_path / "s.yaml"),
            "--window",
            "0-40",
            "--time-scale",
            "4",
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + (out / "locust.log").read_text()
    summary = json.loads(result.stdout)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["duration_s"] == 10 and summary["offered_requests"] == pytest.approx(180)
    detail = summary["endpoints"]["GET /events/{event_id}"]["requests"]
    # Poisson with mean 100 (10/s for 10 s): far outside 4 sd would mean a closed loop or no pacing.
    assert 60 <= detail <= 140, detail
    assert "GET /attendees/{attendee_id}" not in summary["endpoints"]  # not in the scenario
    # Locust's own outputs and the server's view are kept side by side.
    assert (out / "locust_stats_history.csv").stat().st_size > 0
    assert (out / "locust_report.html").read_text().lower().count("<html") >= 1
    for name in ("metrics_before.prom", "metrics_after.prom"):
        assert "perfcore_http_requests" in (out / name).read_text() or name == "metrics_before.prom"
    assert summary["server_metrics"] == {"before": "ok", "after": "ok"}
    assert 'route="/events/{event_id}"' in (out / "metrics_after.prom").read_text()


@pytest.mark.parametrize(
    "host", ["http://evil.com\\@127.0.0.1:8000", "http://user@127.0.0.1:1", "http://10.9.9.9:80"]
)
def test_scenario_loadtest_refuses_hosts_before_any_request(host: str, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SMALL_SCENARIO)
    result = subprocess.run(
        [*PERFCORE, "loadtest", "--host", host, "--scenario", str(tmp_path / "s.yaml"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "--host" in result.stderr and "Traceback" not in result.stderr
