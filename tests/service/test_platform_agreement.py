"""The platform description, the running service and the simulation's request path agree.

From :data:`PLATFORM` alone we derive, per request class, the tuple
(endpoint, cached namespace, invalidated namespaces, enqueued job types).
The service's tuple is *observed*: real requests against real MariaDB, cache
Redis and queue Redis, reading which cache keys appear and disappear and which
BullMQ jobs arrive. The simulation's tuple is read from the class table its
request path runs on. Change any body, and its side of the comparison fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import create_engine, func, insert, select

from perfcore.config import PerfcoreConfig
from perfcore.platform import PLATFORM
from perfcore.platform.model import ROLE_KEY
from perfcore.platform.schema import events
from perfcore.platform.seed import SeedSize, event_row
from perfcore.service import ServiceOptions
from perfcore.service.auth import mint
from simulation.model.cache import CacheTier
from simulation.model.requests import ClassTable
from simulation.scenario import REQUEST_CLASSES, Scenario

AppFactory = Callable[..., Any]
ConfigFactory = Callable[..., PerfcoreConfig]
REPEATS = 40  # draws of a probabilistic job: P(a 0.2 job never drawn) = 0.8**40 < 2e-4


@dataclass(frozen=True)
class Behaviour:
    endpoint: str
    namespace: str | None
    invalidates: frozenset[str]
    jobs: frozenset[str]


def from_the_description() -> dict[str, Behaviour]:
    return {
        name: Behaviour(
            f"{rc.endpoint.method} {rc.endpoint.path}",
            rc.namespace,
            frozenset(i.namespace for i in rc.invalidates),
            frozenset(job for job, p in rc.jobs.items() if p > 0),
        )
        for name, rc in PLATFORM.request_classes.items()
    }


def from_the_simulation() -> dict[str, Behaviour]:
    scenario = Scenario()
    sizes = {"global": 1, "event": 3, "attendee": 3, "session": 3}
    cache = CacheTier(scenario.cache, scenario.infrastructure, sizes, replicas=1)
    table = ClassTable.build(scenario, cache)
    by_offset = {offset: ns for ns, offset in cache.offset.items()}
    found = {}
    for i, name in enumerate(REQUEST_CLASSES):
        endpoint = PLATFORM.request_classes[name].endpoint  # the model has no HTTP of its own
        found[name] = Behaviour(
            f"{endpoint.method} {endpoint.path}",
            by_offset.get(table.offset[i]),
            frozenset(by_offset[offset] for offset, _ in table.invalidates[i]),
            frozenset(job for job, p in table.jobs[i] if p > 0),
        )
    return found


class Observer:
    """Watches the service's cache keys and BullMQ jobs on the real Redis servers."""

    def __init__(self, cache: Redis, cache_prefix: str, queues: Redis, queue_prefix: str) -> None:
        self.cache, self.cache_prefix = cache, cache_prefix
        self.queues, self.queue_prefix = queues, queue_prefix

    def cached(self) -> set[tuple[str, str]]:
        """(namespace, key) of every entry in the cache Redis under the service's prefix."""
        keys = self.cache.scan_iter(match=f"{self.cache_prefix}:*", count=1000)
        return {tuple(k.decode().split(":", 2)[1:]) for k in keys}  # type: ignore[misc]

    def jobs(self) -> dict[bytes, bytes]:
        """Job key -> job name for every job hash under the queue prefix."""
        found = {}
        for key in self.queues.scan_iter(match=f"{self.queue_prefix}:*:*", count=1000):
            if self.queues.type(key) == b"hash":  # a job (ids are producer-set UUIDs)
                name = self.queues.hget(key, "name")
                if name is not None:
                    found[key] = name
        return found


def observe_service(
    client: TestClient, seen: Observer, event_id: int, secret: bytes
) -> dict[str, Behaviour]:
    attendee, session = 5, 1
    paths = {"event_id": event_id, "attendee_id": attendee, "session_id": session}

    def caller(name: str) -> dict[str, str]:
        """The token the description says this class needs."""
        role = PLATFORM.request_classes[name].auth
        space = ROLE_KEY[role]
        if space is None:
            return {}
        param = PLATFORM.key_spaces[space]
        return {"Authorization": f"Bearer {mint(secret, f'{role}:{paths[str(param)]}')}"}

    reads = [name for name, rc in PLATFORM.request_classes.items() if rc.endpoint.method == "GET"]

    def fill_every_read() -> None:
        for name in reads:
            path = PLATFORM.request_classes[name].endpoint.path.format(**paths)
            assert client.get(path, headers=caller(name)).status_code == 200, path

    found: dict[str, Behaviour] = {}
    assert (
        client.post(  # a confirmed registration, so check-ins succeed
            f"/events/{event_id}/registrations",
            json={"attendee_id": attendee},
            headers=caller("register"),
        ).json()["status"]
        == "confirmed"
    )
    for name, rc in PLATFORM.request_classes.items():
        path = rc.endpoint.path.format(**paths)
        endpoint = f"{rc.endpoint.method} {rc.endpoint.path}"
        fill_every_read()
        before_cache, before_jobs = seen.cached(), seen.jobs()
        if rc.endpoint.method == "GET":
            # A cold key: what the read stores is its namespace.
            for ns, key in before_cache:
                seen.cache.delete(f"{seen.cache_prefix}:{ns}:{key}")
            client.app.state.service.cache._l1.clear()  # type: ignore[attr-defined]  # cold L1 too
            assert client.get(path, headers=caller(name)).status_code == 200
            stored = {ns for ns, _ in seen.cached()}
            found[name] = Behaviour(endpoint, stored.pop() if len(stored) == 1 else None,
                                    frozenset(), frozenset())  # fmt: skip
            continue
        bodies: list[dict[str, Any]] = (
            [{"job_type": job} for job in sorted(rc.jobs)]
            if rc.caller_picks_job
            else [{"attendee_id": attendee}] * REPEATS
        )
        dropped: set[str] = set()
        for body in bodies:
            resp = client.post(path, json=body, headers=caller(name))
            assert resp.status_code in (200, 201, 202), (path, resp.text)
            dropped |= {ns for ns, _ in before_cache - seen.cached()}
        names = {n.decode() for k, n in seen.jobs().items() if k not in before_jobs}
        found[name] = Behaviour(endpoint, None, frozenset(dropped), frozenset(names))
    return found


@pytest.mark.mariadb
@pytest.mark.redis
def test_service_behaves_as_the_description_says(
    start_app: AppFactory,
    service_config: ConfigFactory,
    service_db: str,
    seed_size: SeedSize,
    redis_cache_url: str,
    redis_queues_url: str,
) -> None:
    queue_prefix = f"agree{time.time_ns() % 10**9}"
    config = service_config(prefix=queue_prefix)
    options = ServiceOptions(seed=seed_size, job_seed=3)  # the same job draws every run
    seen = Observer(
        Redis.from_url(redis_cache_url),
        config.cache.key_prefix,
        Redis.from_url(redis_queues_url),
        queue_prefix,
    )
    with start_app(config, queues_url=redis_queues_url, options=options) as client:
        engine = create_engine(service_db)  # an event of our own, with seats to spare
        with engine.begin() as conn:
            event_id = int(conn.execute(select(func.max(events.c.id))).scalar_one()) + 1
            conn.execute(insert(events).values(event_row(event_id, datetime.now(), 50)))
        engine.dispose()
        assert config.service.auth_secret is not None
        secret = config.service.auth_secret.get_secret_value().encode()
        observed = observe_service(client, seen, event_id, secret)
    assert observed == from_the_description()


def test_simulation_behaves_as_the_description_says() -> None:
    assert from_the_simulation() == from_the_description()


def test_every_simulated_class_has_a_route_in_the_service() -> None:
    from perfcore.service import create_app

    app = create_app(PerfcoreConfig(), "sqlite://")
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ())}
    for name in REQUEST_CLASSES:
        endpoint = PLATFORM.request_classes[name].endpoint
        assert (endpoint.method, endpoint.path) in routes, name
