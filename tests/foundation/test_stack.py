"""The local stack: ``perfcore stack up/status/down`` start and stop real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
import redis

from perfcore.stack import SERVICES, Stack, start_redis
from perfcore.testing import require_service


def _perfcore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args], capture_output=True, text=True, timeout=240
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_cli_up_status_down_leaves_nothing_behind(tmp_path: Path) -> None:
    run_dir = str(tmp_path / "stack")
    up = _perfcore("stack", "up", "--json", "--run-dir", run_dir)
    if up.returncode != 0:
        require_service(up.stderr.strip())
    urls = json.loads(up.stdout)["services"]
    assert set(urls) == set(SERVICES)
    try:
        cache = redis.Redis.from_url(urls["redis_cache"])
        assert cache.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
        queues = redis.Redis.from_url(urls["redis_queues"])
        assert queues.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        host, port = urls["redis_cluster"].removeprefix("redis+cluster://").split(",")[0].split(":")
        info = redis.Redis(host=host, port=int(port)).cluster("INFO")
        assert info["cluster_state"] == "ok" and info["cluster_known_nodes"] == "3"
        db_port = int(urls["mariadb"].rsplit(":", 1)[1].split("/")[0])
        conn = pymysql.connect(host="127.0.0.1", port=db_port, user="root", database="perfcore")
        with conn.cursor() as cur:
            cur.execute("SELECT @@log_output, @@slow_query_log")
            assert cur.fetchone() == ("TABLE", 1)
        conn.close()

        status = json.loads(_perfcore("stack", "status", "--json", "--run-dir", run_dir).stdout)
        pids = [pid for info in status["services"].values() for pid in info["pids"]]
        assert len(pids) == 6 and all(info["running"] for info in status["services"].values())
    finally:
        down = _perfcore("stack", "down", "--run-dir", run_dir)
    assert down.returncode == 0
    assert not any(_alive(pid) for pid in pids)
    assert "no services" in _perfcore("stack", "status", "--run-dir", run_dir).stdout


def test_up_is_idempotent_and_keeps_running_services(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    try:
        first = stack.up(["redis_cache"])
    except Exception as exc:
        require_service(str(exc))
    try:
        assert stack.up(["redis_cache"]) == first
    finally:
        stack.down()


def test_redis_server_restarts_on_the_same_port(tmp_path: Path) -> None:
    try:
        server = start_redis(tmp_path, maxmemory_policy="noeviction")
    except Exception as exc:
        require_service(str(exc))
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=1)
        assert client.ping()
        server.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()
        assert client.ping()
    finally:
        server.stop()


def test_unknown_service_is_bad_input(tmp_path: Path) -> None:
    result = _perfcore("stack", "up", "--only", "postgres", "--run-dir", str(tmp_path))
    assert result.returncode == 2
    assert "unknown service 'postgres'" in result.stderr
