"""The reference API against real MariaDB and Redis: cache, invalidation, aggregates, exports."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import create_engine, func, insert, select, update

from perfcore.platform.schema import attendees, check_ins, events, registrations
from perfcore.platform.seed import SeedSize, event_row

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]

AppFactory = Callable[..., Any]
Tokens = Any  # the conftest's Tokens
ConfigFactory = Callable[..., Any]


def _sql(dsn: str, statement: Any) -> Any:
    engine = create_engine(dsn)
    try:
        with engine.begin() as conn:
            result = conn.execute(statement)
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def new_event(dsn: str, capacity: int) -> int:
    """An event of our own (other tests in the module write to the seeded ones)."""
    event_id = int(_sql(dsn, select(func.max(events.c.id)))) + 1
    starts = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    _sql(
        dsn,
        insert(events).values(event_row(event_id, starts, capacity, title=f"E{event_id}")),
    )
    return event_id


def eventually(check: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_health_and_seeded_listing(
    start_app: AppFactory, service_db: str, seed_size: SeedSize
) -> None:
    with start_app() as client:
        assert client.get("/healthz").json()["status"] == "ok"
        listed = client.get("/events/active").json()
    starts = [item["starts_at"] for item in listed]
    assert listed and starts == sorted(starts)
    count = _sql(service_db, select(func.count()).select_from(attendees))
    assert count == seed_size.attendees


def test_read_is_cached_in_memory_and_redis(
    start_app: AppFactory, service_db: str, service_config: ConfigFactory, redis_cache_url: str
) -> None:
    config = service_config()
    event_id = new_event(service_db, capacity=10)
    with start_app(config) as client:
        first = client.get(f"/events/{event_id}").json()
        # Changed behind the API's back: a cached read must not see it.
        _sql(service_db, update(events).where(events.c.id == event_id).values(title="renamed"))
        second = client.get(f"/events/{event_id}").json()
        tiers = client.app.state.service.cache.stats()["namespaces"]["event_detail"]  # type: ignore[attr-defined]
    assert first["title"] == second["title"] == f"E{event_id}"
    assert tiers["l1_hits"] == 1 and tiers["fetches"] == 1
    raw = Redis.from_url(redis_cache_url).get(f"{config.cache.key_prefix}:event_detail:{event_id}")
    assert raw is not None and json.loads(raw)["v"]["title"] == f"E{event_id}"
    # A fresh instance (empty L1) is served by Redis, still without the database.
    with start_app(config) as other:
        assert other.get(f"/events/{event_id}").json()["title"] == f"E{event_id}"
        ns = other.app.state.service.cache.stats()["namespaces"]["event_detail"]  # type: ignore[attr-defined]
    assert ns["l2_hits"] == 1 and ns["fetches"] == 0


def test_registration_invalidates_detail_here_and_in_other_instances(
    tokens: Tokens, start_app: AppFactory, service_db: str, service_config: ConfigFactory
) -> None:
    config = service_config()
    event_id = new_event(service_db, capacity=10)
    with start_app(config) as writer, start_app(config) as reader:
        before = writer.get(f"/events/{event_id}").json()
        assert reader.get(f"/events/{event_id}").json() == before  # now in the reader's L1
        resp = writer.post(
            f"/events/{event_id}/registrations", json={"attendee_id": 3}, headers=tokens.attendee(3)
        )
        assert resp.status_code == 201 and resp.json()["status"] == "confirmed"
        after = writer.get(f"/events/{event_id}").json()
        assert after["registrations"]["confirmed"] == before["registrations"]["confirmed"] + 1
        assert after["seats_left"] == before["seats_left"] - 1
        # The other instance drops its L1 copy via the invalidation channel.
        assert eventually(lambda: reader.get(f"/events/{event_id}").json() == after)
        profile = writer.get("/attendees/3", headers=tokens.attendee(3)).json()
        assert event_id in [r["event_id"] for r in profile["registrations"]]
        # Registering again returns the same registration, without a new row.
        again = writer.post(
            f"/events/{event_id}/registrations", json={"attendee_id": 3}, headers=tokens.attendee(3)
        )
        assert again.status_code == 200
        assert again.json()["registration_id"] == resp.json()["registration_id"]


def test_dashboard_numbers_match_the_rows(
    tokens: Tokens, start_app: AppFactory, service_db: str
) -> None:
    event_id = new_event(service_db, capacity=4)
    with start_app() as client:
        statuses = [
            client.post(
                f"/events/{event_id}/registrations",
                json={"attendee_id": a},
                headers=tokens.attendee(a),
            ).json()["status"]
            for a in range(10, 16)
        ]
        assert statuses == ["confirmed"] * 4 + ["waitlisted"] * 2  # capacity is never exceeded
        for a in (10, 11, 12):
            assert (
                client.post(
                    f"/events/{event_id}/checkins",
                    json={"attendee_id": a},
                    headers=tokens.attendee(a),
                ).status_code
                == 201
            )
        repeat = client.post(
            f"/events/{event_id}/checkins", json={"attendee_id": 10}, headers=tokens.attendee(10)
        )
        assert repeat.status_code == 200
        waitlisted = client.post(
            f"/events/{event_id}/checkins", json={"attendee_id": 15}, headers=tokens.attendee(15)
        )
        assert waitlisted.status_code == 409
        board = client.get(
            f"/events/{event_id}/dashboard", headers=tokens.organizer(event_id)
        ).json()
    rows_confirmed = _sql(
        service_db,
        select(func.count())
        .select_from(registrations)
        .where(registrations.c.event_id == event_id, registrations.c.status == "confirmed"),
    )
    rows_checked = _sql(
        service_db,
        select(func.count()).select_from(check_ins).where(check_ins.c.event_id == event_id),
    )
    assert board["registrations"] == {"confirmed": rows_confirmed, "waitlisted": 2, "cancelled": 0}
    assert board["checked_in"] == rows_checked == 3
    assert board["checkin_rate"] == pytest.approx(3 / 4)
    assert board["seats_left"] == 0 and board["recent_checkins"] == 3


def test_errors_are_http_statuses(tokens: Tokens, start_app: AppFactory) -> None:
    with start_app() as client:
        assert client.get("/events/99999999").status_code == 404
        assert (
            client.get("/attendees/99999999", headers=tokens.attendee(99999999)).status_code == 404
        )
        assert (
            client.get("/events/99999999/dashboard", headers=tokens.organizer(99999999)).status_code
            == 404
        )
        missing = client.post(
            "/events/1/registrations",
            json={"attendee_id": 99999999},
            headers=tokens.attendee(99999999),
        )
        assert missing.status_code == 404
        assert client.post("/events/1/registrations", json={"attendee_id": 0}).status_code == 422
        assert client.post("/events/1/checkins", json={}).status_code == 422
        assert (
            client.post("/events/99999999/exports", headers=tokens.organizer(99999999)).status_code
            == 404
        )


def test_export_is_queued_in_bullmq(
    tokens: Tokens, start_app: AppFactory, service_config: ConfigFactory, redis_queues_url: str
) -> None:
    prefix = f"svc{time.time_ns() % 10**9}"
    config = service_config(prefix=prefix)
    with start_app(config, queues_url=redis_queues_url) as client:
        resp = client.post(
            "/events/2/exports", json={"job_type": "data_export"}, headers=tokens.organizer(2)
        )
    assert resp.status_code == 202
    body = resp.json()
    assert body["mode"] == "queued" and body["queue"] == config.queues.default_route.queue
    job = Redis.from_url(redis_queues_url).hgetall(f"{prefix}:{body['queue']}:{body['job_id']}")
    assert job[b"name"] == b"data_export"
    assert json.loads(job[b"data"]) == {"table": "registrations", "event_id": 2}


def test_export_without_a_queue_runs_in_process(
    tokens: Tokens, start_app: AppFactory, tmp_path: Path
) -> None:
    with start_app() as client:
        resp = client.post("/events/1/exports", headers=tokens.organizer(1))
        assert resp.status_code == 202 and resp.json()["mode"] == "inline"
    # Shutdown waits for started exports: the CSV is complete now.
    files = list((tmp_path / "exports").glob("registrations-inline-*.csv"))
    assert len(files) == 1
    lines = files[0].read_text().splitlines()
    assert lines[0].startswith("id,event_id,attendee_id") and len(lines) > 1


def test_metrics_label_routes_by_template(tokens: Tokens, start_app: AppFactory) -> None:
    with start_app() as client:
        for event_id in (1, 2, 1):
            client.get(f"/events/{event_id}")
        text = client.get("/metrics", headers=tokens.operator()).text
    line = 'perfcore_http_requests_total{method="GET",route="/events/{event_id}",status="200"} 3.0'
    assert line in text
    assert (
        'perfcore_cache_lookups_total{namespace="event_detail",result="hit",tier="l1"} 1.0' in text
    )
