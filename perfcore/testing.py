"""pytest plugin: the stack's real services as session fixtures.

Each service starts lazily, the first time a test asks for it, through the same
:class:`perfcore.stack.Stack` that ``perfcore stack up`` uses, in a temporary
run directory; everything is stopped at the end of the session.

A service that cannot start *fails* the test when ``CI=true`` (a green run must
mean the real thing was tested) and skips it, with the reason, elsewhere.
Tests marked ``docker`` run only where a Docker daemon answers.

Use it with ``pytest_plugins = ["perfcore.testing"]`` in a conftest.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from perfcore.errors import ServiceUnavailable
from perfcore.stack import Stack
from perfcore.stack.process import stop_all


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(reason: str) -> None:
    """Fail under CI, skip elsewhere: the one place that decides."""
    if in_ci():
        pytest.fail(f"required service unavailable (CI=true): {reason}", pytrace=False)
    pytest.skip(f"service unavailable: {reason}")


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    docker_items = [item for item in items if item.get_closest_marker("docker")]
    if docker_items and not docker_available():
        # Kubernetes (K3s) cannot run without Docker; its HTTP-level tests still run.
        marker = pytest.mark.skip(reason="no Docker daemon reachable: testcontainers test not run")
        for item in docker_items:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def _stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("stack"))

    def stop_and_exit(signum: int, frame: object) -> None:
        # A terminated run (CI time-out, Ctrl-C twice) must not leave servers behind.
        stack.down()
        stop_all()  # servers tests started for themselves (outage tests)
        os._exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop_and_exit)
    try:
        yield stack
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.down()


def _service_url(stack: Stack, name: str) -> str:
    try:
        return stack.up([name])[name]
    except ServiceUnavailable as exc:
        require_service(str(exc))
        raise  # unreachable: require_service fails or skips


@pytest.fixture(scope="session")
def redis_cache_url(_stack: Stack) -> str:
    """Redis for the cache (allkeys-lru)."""
    return _service_url(_stack, "redis_cache")


@pytest.fixture(scope="session")
def redis_queues_url(_stack: Stack) -> str:
    """Redis for BullMQ (noeviction)."""
    return _service_url(_stack, "redis_queues")


@pytest.fixture(scope="session")
def redis_cluster_url(_stack: Stack) -> str:
    """``redis+cluster://h:p,h:p,h:p`` of a 3-primary cluster."""
    return _service_url(_stack, "redis_cluster")


@pytest.fixture(scope="session")
def redis_cluster_nodes(redis_cluster_url: str) -> list[tuple[str, int]]:
    hosts = redis_cluster_url.removeprefix("redis+cluster://").split(",")
    return [(host, int(port)) for host, port in (h.rsplit(":", 1) for h in hosts)]


@pytest.fixture(scope="session")
def mariadb_dsn(_stack: Stack) -> str:
    """``mysql+pymysql://root@127.0.0.1:P/perfcore`` (slow log to mysql.slow_log)."""
    return _service_url(_stack, "mariadb")


@pytest.fixture(scope="session")
def stack_urls(
    redis_cache_url: str, redis_queues_url: str, redis_cluster_url: str, mariadb_dsn: str
) -> dict[str, str]:
    return {
        "redis_cache": redis_cache_url,
        "redis_queues": redis_queues_url,
        "redis_cluster": redis_cluster_url,
        "mariadb": mariadb_dsn,
    }


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A directory for a test's own extra servers."""
    return tmp_path


@contextmanager
def own_database(mariadb_dsn: str, prefix: str) -> Iterator[str]:
    """The DSN of a fresh database on the stack's MariaDB, dropped afterwards.

    Tests that seed or race get a database of their own, so they neither see
    nor disturb what other tests wrote to the shared one.
    """
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(mariadb_dsn)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    try:
        yield make_url(mariadb_dsn).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
