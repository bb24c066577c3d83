"""Fixtures for the service tests: an own MariaDB database, an own cache prefix, a running app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perfcore.config import PerfcoreConfig, validate_model
from perfcore.platform.seed import SeedSize
from perfcore.service import ServiceOptions, create_app
from perfcore.service.auth import mint
from perfcore.testing import own_database

SMALL = SeedSize(events=6, attendees=60, registrations_per_event=12, capacity=20)
SECRET = os.environ["PERFCORE_AUTH_SECRET"]  # tests/conftest.py


class Tokens:
    """Authorization headers for the test service's secret."""

    def _bearer(self, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(SECRET.encode(), subject)}"}

    def attendee(self, attendee_id: int) -> dict[str, str]:
        return self._bearer(f"attendee:{attendee_id}")

    def organizer(self, event_id: int) -> dict[str, str]:
        return self._bearer(f"organizer:{event_id}")

    def operator(self) -> dict[str, str]:
        return self._bearer("operator")


@pytest.fixture()
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture(scope="module")
def service_db(mariadb_dsn: str) -> Iterator[str]:
    """A database of its own on the stack's MariaDB (other tests seed the shared one)."""
    with own_database(mariadb_dsn, "svc") as dsn:
        yield dsn


ConfigFactory = Callable[..., PerfcoreConfig]
AppFactory = Callable[..., AbstractContextManager[TestClient]]


@pytest.fixture()
def seed_size() -> SeedSize:
    return SMALL


@pytest.fixture()
def service_config(redis_cache_url: str, tmp_path: Path) -> ConfigFactory:
    """``service_config(**queues)``: defaults with a private cache prefix and channel.

    Tests share one Redis; their own prefix keeps their keys and invalidations apart.
    """

    def make(**queues: Any) -> PerfcoreConfig:
        tag = uuid.uuid4().hex[:10]
        return validate_model(
            PerfcoreConfig,
            {
                "cache": {
                    "redis_url": redis_cache_url,
                    "key_prefix": f"svc{tag}",
                    "invalidation_channel": f"svc{tag}:invalidate",
                },
                "queues": {"export_dir": str(tmp_path / "exports"), **queues},
                "service": {"auth_secret": SECRET},
            },
        )

    return make


@pytest.fixture()
def start_app(service_db: str, service_config: ConfigFactory) -> AppFactory:
    """``start_app(config=None, queues_url=None, options=None)`` -> a TestClient with its lifespan."""

    def start(
        config: PerfcoreConfig | None = None,
        queues_url: str | None = None,
        options: ServiceOptions | None = None,
    ) -> TestClient:
        config = config or service_config()
        options = options or ServiceOptions(seed=SMALL)
        app = create_app(config, service_db, queues_url=queues_url, options=options)
        return TestClient(app)

    return start
