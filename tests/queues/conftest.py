"""Fixtures for the queue tests: isolated queue configs, worker processes, Node BullMQ."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from perfcore.config import QueuesConfig, validate_model
from perfcore.testing import require_service

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE.parent / "node"
REPO = HERE.parent.parent


def ensure_node_modules(directory: Path = NODE_DIR) -> Path:
    """``npm install`` the interop fixture once; a missing Node/npm is a missing service."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        require_service("node and npm are needed for the BullMQ interop tests")
    if not (directory / "node_modules" / "bullmq").is_dir():
        result = subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            require_service(f"npm install failed: {result.stderr.strip()[-300:]}")
    return directory


@pytest.fixture(scope="session")
def node_dir() -> Path:
    """tests/node with bullmq and ioredis installed."""
    return ensure_node_modules()


def make_config(redis_url: str, tmp_path: Path, **fields: Any) -> QueuesConfig:
    """A queues config with its own key prefix (tests share one Redis) and a SQLite database."""
    data: dict[str, Any] = {
        "redis_url": redis_url,
        "prefix": f"t{uuid.uuid4().hex[:10]}",
        "database_url": f"sqlite:///{tmp_path / 'ref.sqlite'}",
        "export_dir": str(tmp_path / "exports"),
        "job_defaults": {"backoff_delay_ms": 50},
        "lock_duration_ms": 2000,
        "stalled_interval_ms": 1000,
        "shutdown_timeout_s": 20,
    }
    data.update(fields)
    return validate_model(QueuesConfig, data)


@pytest.fixture()
def qconfig(redis_queues_url: str, tmp_path: Path) -> QueuesConfig:
    return make_config(redis_queues_url, tmp_path)


@pytest.fixture(scope="session")
def queue_db_url(mariadb_dsn: str) -> str:
    """A database of its own on the stack's MariaDB (other layers own ``perfcore``)."""
    server, _, _ = mariadb_dsn.rpartition("/")
    engine = create_engine(server + "/")
    with engine.begin() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS perfcore_queues"))
        conn.execute(text("CREATE DATABASE perfcore_queues"))
    engine.dispose()
    return server + "/perfcore_queues"


def worker_env() -> dict[str, str]:
    """Environment for ``perfcore worker`` subprocesses: test handlers importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env


def perfcore_argv(*args: str) -> list[str]:
    # the console script installed next to this interpreter (the venv's)
    return [str(Path(sys.executable).parent / "perfcore"), *args]


def config_overrides(config: QueuesConfig) -> list[str]:
    """``--set`` flags reproducing ``config`` in a subprocess."""
    flags = []
    for field in (
        "prefix",
        "database_url",
        "export_dir",
        "lock_duration_ms",
        "stalled_interval_ms",
        "shutdown_timeout_s",
    ):
        flags += ["--set", f"queues.{field}={getattr(config, field)}"]
    flags += ["--set", "queues.job_defaults.backoff_delay_ms=50"]
    return flags


@pytest.fixture()
def spawn_worker(qconfig: QueuesConfig, tmp_path: Path) -> Iterator[Any]:
    """Start ``perfcore worker`` subprocesses; every one left running is killed at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def spawn(queues: str, *extra: str, config: QueuesConfig = qconfig) -> subprocess.Popen[str]:
        log = (tmp_path / f"worker{len(procs)}.log").open("w")
        proc = subprocess.Popen(
            perfcore_argv(
                "worker",
                "--queues",
                queues,
                "--redis",
                config.redis_url,
                *config_overrides(config),
                "--set",
                "queues.handlers=[queue_test_handlers:HANDLERS]",
                *extra,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=worker_env(),
            cwd=tmp_path,
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def wait_for_state(queue: Any, job_id: str, states: set[str], timeout_s: float = 30) -> str:
    """Poll a job's state until it is one of ``states``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    state = ""
    while loop.time() < deadline:
        state = await queue.getJobState(job_id)
        if state in states:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} still {state!r} after {timeout_s}s, wanted {states}")
