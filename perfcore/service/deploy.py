"""How ``perfcore serve`` deploys the reference API: embedded or Redis cache, one or N processes.

:func:`plan_deployment` decides, from the command line and the configuration,
what runs: with a cache Redis configured (``--redis`` or ``cache.redis_url``
set in the configuration) the two-tier cache uses it; without one the service
runs on embedded defaults (:mod:`perfcore.service.embedded`) and says so.
``--workers N`` (``service.workers``) starts N uvicorn worker processes on one
socket; they share nothing but the database and Redis, so N > 1 needs a cache
Redis (an in-process cache cannot invalidate another process's copy).

Worker processes build their app with :func:`worker_app` from the settings the
parent leaves in ``PERFCORE_SERVE_SETTINGS``; the parent creates and seeds the
schema once beforehand, so the workers never race to seed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI

from perfcore.config import PerfcoreConfig, validate_model
from perfcore.errors import BadInput
from perfcore.redact import redact

SETTINGS_ENV = "PERFCORE_SERVE_SETTINGS"
DEFAULT_CACHE_URL = PerfcoreConfig().cache.redis_url


@dataclass(frozen=True)
class Deployment:
    """What ``serve`` runs: the database, the cache (None: embedded), the queues, processes."""

    database_url: str
    cache_url: str | None
    queues_url: str | None
    workers: int
    seed: bool

    def describe(self) -> str:
        """One line for the start-up message (no credentials)."""
        db = redact(self.database_url)
        cache = "Redis" if self.cache_url else "embedded, in process (no Redis configured)"
        jobs = "BullMQ" if self.queues_url else "in process"
        return f"{self.workers} worker(s), database {db}, cache: {cache}, jobs: {jobs}"


def plan_deployment(
    config: PerfcoreConfig,
    database_url: str,
    redis_url: str | None,
    queues_url: str | None,
    workers: int | None,
    seed: bool,
) -> Deployment:
    """The deployment for these options; BadInput naming the option when they cannot work."""
    configured = redis_url or (
        config.cache.redis_url if config.cache.redis_url != DEFAULT_CACHE_URL else None
    )
    n = workers if workers is not None else config.service.workers
    if n > 1 and configured is None:
        raise BadInput(
            f"--workers: {n} processes need a cache Redis (--redis or cache.redis_url); an"
            " in-process cache cannot invalidate the other processes' copies"
        )
    return Deployment(database_url, configured, queues_url, n, seed)


def export_settings(config: PerfcoreConfig, deployment: Deployment) -> None:
    """Leave the settings for :func:`worker_app` in this process's environment (inherited).

    The token key travels in its own variable: a dump of the config masks it
    (SecretStr), and every worker must check tokens with the same key.
    """
    from perfcore.service.auth import SECRET_ENV, load_secret

    os.environ[SECRET_ENV] = load_secret(config.service).decode()
    data = config.model_dump(mode="json")
    data["service"]["auth_secret"] = None
    os.environ[SETTINGS_ENV] = json.dumps({"config": data, "deployment": asdict(deployment)})


def worker_app() -> FastAPI:
    """uvicorn's app factory in each worker process (``--workers N``)."""
    from perfcore.service.app import ServiceOptions, create_app

    raw: dict[str, Any] = json.loads(os.environ[SETTINGS_ENV])
    config = validate_model(PerfcoreConfig, raw["config"])
    d = Deployment(**raw["deployment"])
    return create_app(
        config,
        d.database_url,
        cache_url=d.cache_url,
        queues_url=d.queues_url,
        options=ServiceOptions(seed=None, embedded_cache=d.cache_url is None),
    )


def prepare_database(database_url: str, seed: bool) -> None:
    """Create (and seed, if empty) the schema once, before worker processes start."""
    from perfcore.platform.database import connect
    from perfcore.platform.schema import create_schema
    from perfcore.platform.seed import SeedSize
    from perfcore.platform.seed import seed as fill
    from perfcore.service.app import utc_now

    engine = connect(database_url)
    try:
        create_schema(engine)
        if seed:
            fill(engine, utc_now(), SeedSize())
    finally:
        engine.dispose()
