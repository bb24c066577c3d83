"""``perfcore serve`` as deployed: embedded defaults, degraded health, N worker processes, metrics."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import AppFactory
from serve_process import bearer, serving

from perfcore.config import PerfcoreConfig
from perfcore.stack import free_port


def test_without_redis_it_runs_on_embedded_defaults_and_says_so(tmp_path: Path) -> None:
    with serving(tmp_path, "--db", f"sqlite:///{tmp_path / 'e.db'}") as (url, _):
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "ok" and "embedded" in health["cache_mode"]
        write = httpx.post(
            f"{url}/events/1/registrations", json={"attendee_id": 7}, headers=bearer("attendee:7")
        )
        assert write.status_code == 201, write.text  # not 503: nothing to invalidate remotely
        first = httpx.get(f"{url}/events/1").json()
        httpx.post(
            f"{url}/events/1/registrations", json={"attendee_id": 8}, headers=bearer("attendee:8")
        )
        assert httpx.get(f"{url}/events/1").json() != first  # the local invalidation took
    assert "embedded, in process (no Redis configured)" in (tmp_path / "serve.log").read_text()


def test_a_configured_redis_that_is_down_makes_health_degraded(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with serving(tmp_path, "--db", f"sqlite:///{tmp_path / 'd.db'}", "--redis", dead) as (url, _):
        resp = httpx.get(f"{url}/healthz")
        body = resp.json()
        assert resp.status_code == 200 and body["status"] == "degraded"
        assert body["degraded"] == ["cache"] and body["cache"].startswith("down")
        assert httpx.get(f"{url}/events/1").status_code == 200  # reads still work


def test_workers_need_a_redis() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perfcore", "serve", "--workers", "2", "--db", "sqlite://"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "--workers" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.redis
@pytest.mark.mariadb
@pytest.mark.slow
def test_n_workers_on_mariadb_and_redis_share_one_port(
    tmp_path: Path, service_db: str, redis_cache_url: str
) -> None:
    args = ["--db", service_db, "--redis", redis_cache_url, "--workers", "2"]
    args += ["--set", f"cache.key_prefix=w{free_port()}", "--set", "service.db_pool_size=3"]
    with serving(tmp_path, *args) as (url, proc):
        workers = [
            p for p in psutil.Process(proc.pid).children(recursive=True) if "python" in p.name()
        ]
        assert len(workers) >= 2, [p.cmdline() for p in workers]
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
        answers = [httpx.get(f"{url}/events/{i % 5 + 1}").status_code for i in range(20)]
        assert answers == [200] * 20
        assert (
            "perfcore_db_pool_size 3.0"
            in httpx.get(f"{url}/metrics", headers=bearer("operator")).text
        )


@pytest.mark.redis
@pytest.mark.mariadb
def test_metrics_show_cache_results_per_route_and_database_time(start_app: AppFactory) -> None:
    with start_app() as client:
        for _ in range(3):
            assert client.get("/events/1").status_code == 200
        assert client.post(
            "/events/1/registrations", json={"attendee_id": 3}, headers=bearer("attendee:3")
        ).status_code in (
            200,
            201,
        )
        text = client.get("/metrics", headers=bearer("operator")).text
    assert (
        'perfcore_route_cache_results_total{result="miss",route="/events/{event_id}"} 1.0' in text
    )
    assert 'perfcore_route_cache_results_total{result="hit",route="/events/{event_id}"} 2.0' in text
    assert 'perfcore_db_query_duration_seconds_count{query="event_by_id"} 1.0' in text
    assert 'perfcore_db_query_duration_seconds_count{query="insert_registration"} 1.0' in text
    assert "perfcore_db_pool_connections_opened_total" in text
    assert 'perfcore_cache_l2_duration_seconds_count{op="get"}' in text
    assert 'le="0.0015"' in text  # the finer latency buckets


def test_each_process_takes_its_gil_switch_interval_from_the_configuration(
    start_app: AppFactory, service_config: Callable[..., PerfcoreConfig]
) -> None:
    before = sys.getswitchinterval()
    config = service_config()
    config = config.model_copy(
        update={"service": config.service.model_copy(update={"gil_switch_ms": 0.5})}
    )
    try:
        with start_app(config) as client:
            assert client.get("/healthz").status_code == 200
            assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(before)
