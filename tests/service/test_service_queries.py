"""Write invariants of the service's queries on SQLite (the quick local backend)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, Table, event, func, insert, inspect, select
from sqlalchemy.schema import CreateTable

from perfcore.platform.database import connect
from perfcore.platform.schema import create_schema, events, metadata
from perfcore.platform.seed import SeedSize, event_row, seed
from perfcore.service import queries
from perfcore.testing import own_database

NOW = datetime(2026, 11, 26, 12, 0, 0)
SIZE = SeedSize(events=5, attendees=40, registrations_per_event=10, capacity=8)


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    engine = connect(f"sqlite:///{tmp_path / 'svc.sqlite'}")
    create_schema(engine)
    assert seed(engine, NOW, SIZE)
    return engine


def test_seed_is_deterministic_and_bounded_by_capacity(engine: Engine, tmp_path: Path) -> None:
    assert not seed(engine, NOW, SIZE)  # an existing data set is left alone
    other = connect(f"sqlite:///{tmp_path / 'other.sqlite'}")
    create_schema(other)
    seed(other, NOW, SIZE)
    for event_id in range(1, SIZE.events + 1):
        a, b = queries.event_detail(engine, event_id), queries.event_detail(other, event_id)
        assert a == b and a is not None
        assert a["registrations"]["confirmed"] <= SIZE.capacity
        assert sum(a["registrations"].values()) == SIZE.registrations_per_event


def test_active_events_window(engine: Engine) -> None:
    listed = queries.active_events(engine, NOW, timedelta(hours=12), limit=100)
    with engine.connect() as conn:
        expected = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.starts_at >= NOW - timedelta(hours=12))
        ).scalar_one()
    assert len(listed) == expected
    assert len(queries.active_events(engine, NOW, timedelta(hours=12), limit=2)) == min(2, expected)


def test_registration_fills_then_waitlists_and_is_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(events).values(event_row(98, NOW, 3)))
    registered = [queries.register(engine, 98, a, NOW) for a in range(1, 6)]
    assert [r.body["status"] for r in registered] == ["confirmed"] * 3 + ["waitlisted"] * 2
    assert all(r.created for r in registered)
    again = queries.register(engine, 98, 1, NOW)
    assert not again.created and again.body == registered[0].body
    detail = queries.event_detail(engine, 98)
    assert detail is not None and detail["seats_left"] == 0
    assert detail["registrations"] == {"confirmed": 3, "waitlisted": 2, "cancelled": 0}
    with pytest.raises(queries.NotFound):
        queries.register(engine, 98, 10_000, NOW)
    with pytest.raises(queries.NotFound):
        queries.register(engine, 10_000, 1, NOW)


def test_check_in_once_and_only_when_confirmed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(events).values(event_row(99, NOW, 1)))
    seated = queries.register(engine, 99, 1, NOW)
    waiting = queries.register(engine, 99, 2, NOW)
    assert (seated.body["status"], waiting.body["status"]) == ("confirmed", "waitlisted")
    first = queries.check_in(engine, 99, 1, NOW)
    second = queries.check_in(engine, 99, 1, NOW + timedelta(minutes=5))
    assert first.created and not second.created and first.body == second.body
    with pytest.raises(queries.Conflict, match="waitlisted"):
        queries.check_in(engine, 99, 2, NOW)
    with pytest.raises(queries.NotFound):
        queries.check_in(engine, 99, 3, NOW)  # not registered
    board = queries.dashboard(engine, 99, NOW + timedelta(minutes=10), timedelta(minutes=15))
    assert board is not None
    assert board["registrations"] == {"confirmed": 1, "waitlisted": 1, "cancelled": 0}
    assert (board["checked_in"], board["recent_checkins"], board["checkin_rate"]) == (1, 1, 1.0)
    assert queries.dashboard(engine, 10_000, NOW, timedelta(minutes=15)) is None


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'race.sqlite'}"
    return str(request.getfixturevalue("service_db"))


def test_concurrent_registrations_never_oversell(any_database: str) -> None:
    # 16 attendees race for the last seat of an event: exactly one gets it.
    engine = connect(any_database, pool_size=16)
    create_schema(engine)
    seed(engine, NOW, SIZE)  # no-op when another test of the module seeded it
    with engine.begin() as conn:
        event_id = int(conn.execute(select(func.max(events.c.id))).scalar_one()) + 1
        conn.execute(insert(events).values(event_row(event_id, NOW, 3)))
    for attendee_id in (1, 2):  # two seats taken before the race
        queries.register(engine, event_id, attendee_id, NOW)
    barrier = threading.Barrier(16)

    def one(attendee_id: int) -> str:
        barrier.wait()
        return str(queries.register(engine, event_id, attendee_id, NOW).body["status"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(3, 19)))
    with engine.connect() as conn:
        taken = conn.execute(select(events.c.seats_taken).where(events.c.id == event_id)).scalar()
    engine.dispose()
    assert statuses.count("confirmed") == 1 and statuses.count("waitlisted") == 15
    assert taken == 3


@pytest.mark.mariadb
def test_a_table_another_process_creates_meanwhile_does_not_fail_the_schema(
    mariadb_dsn: str,
) -> None:
    # Between create_all's look and its CREATE, "another process" (a second engine)
    # creates the notifications table: the CREATE fails with "already exists".
    table = next(t for t in metadata.sorted_tables if t.name == "notifications")
    with own_database(mariadb_dsn, "race") as dsn:
        engine, other = connect(dsn), connect(dsn)
        raced: list[bool] = []

        def create_first(target: Table, connection: Connection, **_: object) -> None:
            if not raced:
                raced.append(True)
                with other.begin() as conn:
                    conn.execute(CreateTable(target))

        event.listen(table, "before_create", create_first)
        try:
            create_schema(engine)
        finally:
            event.remove(table, "before_create", create_first)
        assert raced == [True]
        assert set(inspect(engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}
        engine.dispose()
        other.dispose()
