"""The service's reference schema: the queue handlers' tables plus attendees and check-ins.

``events`` and ``registrations`` (and the handlers' outbox and aggregates) are
:mod:`perfcore.queues.refdb`'s tables, imported, never redefined: export jobs
enqueued by the API read exactly the rows the API wrote.  The service adds
the two tables only it needs.  A registration names its attendee by e-mail
(that is how the handlers address notifications); a check-in belongs to one
registration, at most once.

:func:`seed` fills a deterministic demo data set whose events start around
``now``, so the "active events" listing and the check-in path have work to do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)

from perfcore.queues import refdb
from perfcore.queues.refdb import events, registrations

__all__ = ["attendees", "checkins", "create_schema", "events", "registrations", "seed"]

metadata = MetaData()

attendees = Table(
    "attendees",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(200), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

checkins = Table(
    "checkins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey(events.c.id), nullable=False),
    # unique: a retried or double-tapped check-in finds the first one instead of adding a row
    Column("registration_id", Integer, ForeignKey(registrations.c.id), nullable=False, unique=True),
    Column("checked_in_at", DateTime, nullable=False),
    Index("ix_checkins_event_time", "event_id", "checked_in_at"),
)


def create_schema(engine: Engine) -> None:
    """Create every table the service and the queue handlers use, if missing."""
    refdb.create_schema(engine)
    metadata.create_all(engine)


@dataclass(frozen=True)
class SeedSize:
    """How much demo data :func:`seed` writes."""

    events: int = 40
    attendees: int = 2_000
    registrations_per_event: int = 60
    capacity: int = 100
    checkin_fraction: float = 0.5


def seed(engine: Engine, now: datetime, size: SeedSize | None = None, *, rng_seed: int = 7) -> bool:
    """Write the demo data set unless ``events`` already has rows; True if it wrote.

    Events start from 12 hours before ``now`` (naive UTC) to 8 days after it;
    registrations are mostly confirmed (never beyond capacity); about
    ``checkin_fraction`` of the confirmed registrations of started events are
    checked in.
    """
    size = size or SeedSize()
    rng = random.Random(rng_seed)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(events)).scalar_one() > 0:
            return False
        event_rows = [
            {
                "id": i,
                "name": f"Event {i}",
                "starts_at": now + timedelta(hours=rng.uniform(-12.0, 192.0)),
                "capacity": size.capacity,
            }
            for i in range(1, size.events + 1)
        ]
        conn.execute(insert(events), event_rows)
        people = [
            {
                "id": a,
                "email": f"attendee{a}@example.org",
                "name": f"Attendee {a}",
                "created_at": now - timedelta(days=rng.uniform(1.0, 365.0)),
            }
            for a in range(1, size.attendees + 1)
        ]
        conn.execute(insert(attendees), people)
        reg_rows: list[dict[str, object]] = []
        check_rows: list[dict[str, object]] = []
        per_event = min(size.registrations_per_event, size.attendees)
        for event in event_rows:
            confirmed = 0
            for person in rng.sample(people, per_event):
                status = rng.choices(refdb.STATUSES, weights=(8, 1, 1))[0]
                if status == "confirmed" and confirmed >= size.capacity:
                    status = "waitlisted"
                confirmed += status == "confirmed"
                reg_id = len(reg_rows) + 1
                starts_at = event["starts_at"]
                assert isinstance(starts_at, datetime)
                reg_rows.append(
                    {
                        "id": reg_id,
                        "event_id": event["id"],
                        "attendee_email": person["email"],
                        "status": status,
                        "created_at": starts_at - timedelta(hours=rng.uniform(1.0, 240.0)),
                    }
                )
                started = starts_at <= now
                if status == "confirmed" and started and rng.random() < size.checkin_fraction:
                    check_rows.append(
                        {
                            "event_id": event["id"],
                            "registration_id": reg_id,
                            "checked_in_at": starts_at - timedelta(minutes=rng.uniform(0, 30)),
                        }
                    )
        conn.execute(insert(registrations), reg_rows)
        if check_rows:
            conn.execute(insert(checkins), check_rows)
    return True
