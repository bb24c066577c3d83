"""Demo data for the reference schema: a small, deterministic platform around ``now``.

The service seeds it on start so every endpoint has work to do (events that
are live or about to start, sessions, registrations, check-ins); the queue
workers' ``init-db`` uses it too. The advisor's million-row data comes from
:mod:`perfcore.dbopt.datagen` instead (bulk, fixed dates), into the same tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from perfcore.platform.schema import (
    EVENT_ENTRANCE,
    REGISTRATION_STATUSES,
    attendees,
    check_ins,
    events,
    registrations,
    sessions,
)


@dataclass(frozen=True)
class SeedSize:
    """How much demo data :func:`seed` writes."""

    events: int = 40
    attendees: int = 2_000
    registrations_per_event: int = 60
    capacity: int = 100
    sessions_per_event: int = 4
    checkin_fraction: float = 0.5

    @property
    def sessions(self) -> int:
        return self.events * self.sessions_per_event


def event_row(
    event_id: int, starts_at: datetime, capacity: int, *, hours: float = 4.0, title: str = ""
) -> dict[str, Any]:
    """A complete ``events`` row with plain defaults for the columns a caller does not care about."""
    return {
        "id": event_id,
        "organizer_id": 1 + (event_id - 1) // 4,
        "title": title or f"Event {event_id}",
        "category": "conference",
        "city": f"city-{event_id % 10:02d}",
        "status": "published",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=hours),
        "capacity": capacity,
        "seats_taken": 0,
        "created_at": starts_at - timedelta(days=30),
    }


def seed(engine: Engine, now: datetime, size: SeedSize | None = None, *, rng_seed: int = 7) -> bool:
    """Write the demo data set unless ``events`` already has rows; True if it wrote.

    Events start from 12 hours before ``now`` (naive UTC) to 8 days after it;
    registrations are mostly confirmed (never beyond capacity); about
    ``checkin_fraction`` of the confirmed registrations of started events are
    checked in at the entrance. Session ``k`` of event ``e`` has id
    ``(e - 1) * sessions_per_event + k``.
    """
    size = size or SeedSize()
    rng = random.Random(rng_seed)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(events)).scalar_one() > 0:
            return False
        event_rows = []
        for i in range(1, size.events + 1):
            starts = now + timedelta(hours=rng.uniform(-12.0, 192.0))
            row = event_row(i, starts, size.capacity, hours=rng.uniform(1.0, 8.0))
            row["category"] = rng.choice(("conference", "meetup", "workshop", "concert"))
            event_rows.append(row)
        conn.execute(
            insert(sessions),
            [
                {
                    "id": (e["id"] - 1) * size.sessions_per_event + k,
                    "event_id": e["id"],
                    "title": f"Session {k} of event {e['id']}",
                    "room": f"room-{k:02d}",
                    "starts_at": e["starts_at"] + timedelta(hours=k - 1),
                    "ends_at": e["starts_at"] + timedelta(hours=k),
                    "capacity": size.capacity,
                }
                for e in event_rows
                for k in range(1, size.sessions_per_event + 1)
            ],
        )
        people = [
            {
                "id": a,
                "email": f"attendee{a}@example.org",
                "full_name": f"Attendee {a}",
                "country": rng.choice(("DE", "FR", "US", "GB")),
                "company": f"Company {a % 50}",
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
            starts_at = event["starts_at"]
            assert isinstance(starts_at, datetime)
            for person in rng.sample(people, per_event):
                status = rng.choices(REGISTRATION_STATUSES, weights=(8, 1, 1))[0]
                if status == "confirmed" and confirmed >= size.capacity:
                    status = "waitlisted"
                confirmed += status == "confirmed"
                event["seats_taken"] = confirmed
                reg_id = len(reg_rows) + 1
                reg_rows.append(
                    {
                        "id": reg_id,
                        "event_id": event["id"],
                        "attendee_id": person["id"],
                        "status": status,
                        "ticket_type": "standard",
                        "price_cents": 0,
                        "registered_at": starts_at - timedelta(hours=rng.uniform(1.0, 240.0)),
                    }
                )
                started = starts_at <= now
                if status == "confirmed" and started and rng.random() < size.checkin_fraction:
                    check_rows.append(
                        {
                            "event_id": event["id"],
                            "registration_id": reg_id,
                            "session_id": EVENT_ENTRANCE,
                            "gate": "main",
                            "checked_in_at": starts_at - timedelta(minutes=rng.uniform(0, 30)),
                        }
                    )
        conn.execute(insert(events), event_rows)
        conn.execute(insert(registrations), reg_rows)
        if check_rows:
            conn.execute(insert(check_ins), check_rows)
    return True
