"""Stampede protection across real processes on a real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from cache_helpers import isolated_config

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WORKER = Path(__file__).with_name("cache_proc_worker.py")


def _run_processes(config_json: str, processes: int, concurrency: int) -> list[dict[str, Any]]:
    """Start the workers, release them together once all are ready, collect their reports."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), config_json, str(concurrency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:  # all are waiting now: release them at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def _fetch_counter(url: str, prefix: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.get(f"{prefix}-fetches") or 0)
    finally:
        client.close()


def test_lock_makes_one_process_fetch_for_all(redis_cache_url: str) -> None:
    config = isolated_config(redis_cache_url, lock={"enabled": True, "poll_interval_ms": 10})
    reports = _run_processes(config.model_dump_json(), processes=4, concurrency=25)
    assert _fetch_counter(redis_cache_url, config.key_prefix) == 1
    assert sum(r["local_fetches"] for r in reports) == 1
    assert all(r["all_equal"] and r["results"] == 25 for r in reports)
    # The others really were contending: they waited on the lock, then read L2.
    assert sum(r["lock_waits"] for r in reports) >= 1
    assert all(r["l2_errors"] == 0 for r in reports)


def test_without_lock_each_process_fetches_once_for_100_concurrent_misses(
    redis_cache_url: str,
) -> None:
    config = isolated_config(redis_cache_url)
    reports = _run_processes(config.model_dump_json(), processes=4, concurrency=100)
    assert [r["local_fetches"] for r in reports] == [1, 1, 1, 1]
    assert _fetch_counter(redis_cache_url, config.key_prefix) == 4
    assert all(r["all_equal"] and r["results"] == 100 for r in reports)
