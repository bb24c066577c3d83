"""The reference database the job handlers work against (SQLAlchemy Core).

Only the four tables the handlers touch: ``events`` and ``registrations`` are
read; ``notification_outbox`` and ``report_aggregates`` are written.  The same
code runs on MariaDB/MySQL (the stack) and on SQLite (quick local use).

Writes are idempotent per job: a job that stalls and is retried by another
worker must not send a notification twice or double-count an aggregate.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    insert,
    select,
)

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("capacity", Integer, nullable=False),
)

registrations = Table(
    "registrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("attendee_email", String(200), nullable=False),
    Column("status", String(20), nullable=False),  # confirmed | waitlisted | cancelled
    Column("created_at", DateTime, nullable=False),
    Index("ix_registrations_event_status", "event_id", "status"),
)

notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # One row per job: a retried or recovered job finds its row instead of adding one.
    Column("job_key", String(191), nullable=False, unique=True),
    Column("channel", String(20), nullable=False),
    Column("recipient", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

report_aggregates = Table(
    "report_aggregates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report", String(64), nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    UniqueConstraint("report", "event_id", "metric", name="uq_report_aggregates"),
)

STATUSES = ("confirmed", "waitlisted", "cancelled")


def connect(database_url: str, *, max_overflow: int = 10) -> Engine:
    """An engine with pool pre-ping (workers run for days; MariaDB drops idle connections)."""
    if database_url.startswith("sqlite"):
        # SQLite serialises writers; wait for the lock instead of failing at once.
        return create_engine(database_url, connect_args={"timeout": 30})
    return create_engine(database_url, pool_pre_ping=True, max_overflow=max_overflow)


def create_schema(engine: Engine) -> None:
    """Create the four tables if they are missing."""
    metadata.create_all(engine)


def seed(engine: Engine, *, events_count: int = 20, per_event: int = 50, seed: int = 7) -> None:
    """Fill ``events`` and ``registrations`` with deterministic demo data, if empty."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(events)).scalar_one() > 0:
            return
        conn.execute(
            insert(events),
            [
                {
                    "id": i,
                    "name": f"Event {i}",
                    "starts_at": start + timedelta(days=i),
                    "capacity": per_event,
                }
                for i in range(1, events_count + 1)
            ],
        )
        rows = [
            {
                "id": (i - 1) * per_event + j,
                "event_id": i,
                "attendee_email": f"attendee{j}@event{i}.example",
                "status": rng.choices(STATUSES, weights=(8, 1, 1))[0],
                "created_at": start + timedelta(minutes=rng.randrange(60 * 24 * 30)),
            }
            for i in range(1, events_count + 1)
            for j in range(1, per_event + 1)
        ]
        conn.execute(insert(registrations), rows)
