"""The service's database work: one synchronous function per endpoint (SQLAlchemy Core).

Reads return plain JSON-ready dicts (ISO timestamps, no ``datetime``) because
their results go through the cache's JSON codec.  Writes are transactions
that keep the invariants the handlers and the dashboard rely on:

* confirmed registrations never exceed the event's capacity: a seat is taken
  by one conditional ``UPDATE`` (``seats_taken < capacity``), atomic on every
  database;
* registering twice returns the first registration; checking in twice
  returns the first check-in (both idempotent, so client retries are safe).

The API calls these in a worker thread; they know nothing of HTTP or caching.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from perfcore.platform.schema import (
    EVENT_ENTRANCE,
    attendees,
    check_ins,
    events,
    registrations,
    sessions,
)


class NotFound(LookupError):
    """The event, attendee or registration does not exist."""


class Conflict(ValueError):
    """The request contradicts the data (e.g. checking in a waitlisted registration)."""


@dataclass(frozen=True)
class WriteResult:
    """A write's answer: ``created`` is False when an earlier identical write is returned."""

    created: bool
    body: dict[str, Any]
    attendee_id: int


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def active_events(
    engine: Engine, now: datetime, window: timedelta, limit: int
) -> list[dict[str, Any]]:
    """Events that started within ``window`` before ``now`` or start later, soonest first."""
    query = (
        select(events.c.id, events.c.title, events.c.starts_at, events.c.capacity)
        .where(events.c.starts_at >= now - window)
        .order_by(events.c.starts_at, events.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            {"id": r.id, "title": r.title, "starts_at": _iso(r.starts_at), "capacity": r.capacity}
            for r in conn.execute(query)
        ]


def _status_counts(conn: Connection, event_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(registrations.c.status, func.count())
        .where(registrations.c.event_id == event_id)
        .group_by(registrations.c.status)
    )
    counts = {"confirmed": 0, "waitlisted": 0, "cancelled": 0}
    counts.update({status: int(n) for status, n in rows})
    return counts


def event_detail(engine: Engine, event_id: int) -> dict[str, Any] | None:
    """One event with its registration counts and seats left; None if it does not exist."""
    with engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.id == event_id)).first()
        if row is None:
            return None
        counts = _status_counts(conn, event_id)
    return {
        "id": row.id,
        "title": row.title,
        "starts_at": _iso(row.starts_at),
        "capacity": row.capacity,
        "registrations": counts,
        "seats_left": max(row.capacity - counts["confirmed"], 0),
    }


def attendee_profile(engine: Engine, attendee_id: int) -> dict[str, Any] | None:
    """An attendee with their registrations and check-in times; None if unknown."""
    with engine.connect() as conn:
        person = conn.execute(select(attendees).where(attendees.c.id == attendee_id)).first()
        if person is None:
            return None
        rows = conn.execute(
            select(
                registrations.c.event_id,
                registrations.c.status,
                registrations.c.registered_at,
                check_ins.c.checked_in_at,
            )
            .select_from(registrations.outerjoin(check_ins, _entrance_check_in()))
            .where(registrations.c.attendee_id == attendee_id)
            .order_by(registrations.c.event_id)
        ).all()
    return {
        "id": person.id,
        "email": person.email,
        "name": person.full_name,
        "registrations": [
            {
                "event_id": r.event_id,
                "status": r.status,
                "registered_at": _iso(r.registered_at),
                "checked_in_at": _iso(r.checked_in_at),
            }
            for r in rows
        ],
    }


def dashboard(
    engine: Engine, event_id: int, now: datetime, recent: timedelta
) -> dict[str, Any] | None:
    """The organizer's aggregate view of one event: one grouped join over all its registrations."""
    with engine.connect() as conn:
        event = conn.execute(select(events).where(events.c.id == event_id)).first()
        if event is None:
            return None
        rows = conn.execute(
            select(
                registrations.c.status,
                func.count(registrations.c.id),
                func.count(check_ins.c.id),
                func.min(check_ins.c.checked_in_at),
                func.max(check_ins.c.checked_in_at),
            )
            .select_from(registrations.outerjoin(check_ins, _entrance_check_in()))
            .where(registrations.c.event_id == event_id)
            .group_by(registrations.c.status)
        ).all()
        recent_count = conn.execute(
            select(func.count())
            .select_from(check_ins)
            .where(
                and_(check_ins.c.event_id == event_id, check_ins.c.checked_in_at >= now - recent)
            )
        ).scalar_one()
    counts = {"confirmed": 0, "waitlisted": 0, "cancelled": 0}
    checked_in = 0
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for status, n_reg, n_check, first, last in rows:
        counts[status] = int(n_reg)
        checked_in += int(n_check)
        firsts += [first] if first is not None else []
        lasts += [last] if last is not None else []
    confirmed = counts["confirmed"]
    return {
        "event_id": event.id,
        "title": event.title,
        "capacity": event.capacity,
        "registrations": counts,
        "seats_left": max(event.capacity - confirmed, 0),
        "checked_in": checked_in,
        "checkin_rate": checked_in / confirmed if confirmed else 0.0,
        "recent_checkins": int(recent_count),
        "recent_window_s": recent.total_seconds(),
        "first_checkin_at": _iso(min(firsts, default=None)),
        "last_checkin_at": _iso(max(lasts, default=None)),
        "computed_at": _iso(now),
    }


def _require_attendee(conn: Connection, attendee_id: int) -> None:
    found = conn.execute(select(attendees.c.id).where(attendees.c.id == attendee_id)).scalar()
    if found is None:
        raise NotFound(f"attendee {attendee_id} not found")


def _registration_body(row: Any, event_id: int, attendee_id: int) -> dict[str, Any]:
    return {
        "registration_id": row.id,
        "event_id": event_id,
        "attendee_id": attendee_id,
        "status": row.status,
    }


def register(engine: Engine, event_id: int, attendee_id: int, now: datetime) -> WriteResult:
    """Register an attendee: confirmed while seats are left, else waitlisted."""
    with engine.begin() as conn:
        _serialise_writers(conn)
        found = conn.execute(
            select(events.c.id).where(events.c.id == event_id).with_for_update()
        ).first()
        if found is None:
            raise NotFound(f"event {event_id} not found")
        _require_attendee(conn, attendee_id)
        existing = _active_registration(conn, event_id, attendee_id)
        if existing is not None:
            return WriteResult(
                False, _registration_body(existing, event_id, attendee_id), attendee_id
            )
        # The seat is taken by one conditional UPDATE, so no database can oversell
        # (the row lock above only makes concurrent registrations queue politely).
        took_seat = conn.execute(
            update(events)
            .where(events.c.id == event_id, events.c.seats_taken < events.c.capacity)
            .values(seats_taken=events.c.seats_taken + 1)
        ).rowcount
        status = "confirmed" if took_seat == 1 else "waitlisted"
        result = conn.execute(
            insert(registrations).values(
                event_id=event_id, attendee_id=attendee_id, status=status, registered_at=now
            )
        )
        reg_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    body = {
        "registration_id": reg_id,
        "event_id": event_id,
        "attendee_id": attendee_id,
        "status": status,
    }
    return WriteResult(True, body, attendee_id)


def _serialise_writers(conn: Connection) -> None:
    """On SQLite, take the write lock before reading (BEGIN IMMEDIATE).

    A deferred SQLite transaction that reads, then writes, can meet another
    doing the same and fail with "database is locked" instead of waiting;
    IMMEDIATE makes it wait (the busy timeout) for its turn. MariaDB/MySQL
    lock rows instead.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _active_registration(conn: Connection, event_id: int, attendee_id: int) -> Row[Any, Any] | None:
    """The attendee's registration for the event that is not cancelled, if any."""
    return conn.execute(
        select(registrations.c.id, registrations.c.status).where(
            registrations.c.event_id == event_id,
            registrations.c.attendee_id == attendee_id,
            registrations.c.status != "cancelled",
        )
    ).first()


def _entrance_check_in() -> Any:
    """Join condition: a registration's check-in at the event's entrance."""
    return and_(
        check_ins.c.registration_id == registrations.c.id,
        check_ins.c.session_id == EVENT_ENTRANCE,
    )


def check_in(engine: Engine, event_id: int, attendee_id: int, now: datetime) -> WriteResult:
    """Check in a confirmed registration at the entrance; a second check-in returns the first."""
    with engine.connect() as conn:
        _require_attendee(conn, attendee_id)
        reg = _active_registration(conn, event_id, attendee_id)
    if reg is None:
        raise NotFound(f"attendee {attendee_id} is not registered for event {event_id}")
    if reg.status != "confirmed":
        raise Conflict(f"registration {reg.id} is {reg.status}, not confirmed")
    created = True
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(check_ins).values(
                    event_id=event_id,
                    registration_id=reg.id,
                    session_id=EVENT_ENTRANCE,
                    checked_in_at=now,
                )
            )
    except IntegrityError:
        created = False  # already checked in (unique per registration and session)
    with engine.connect() as conn:
        first = conn.execute(
            select(check_ins.c.id, check_ins.c.checked_in_at).where(
                check_ins.c.registration_id == reg.id, check_ins.c.session_id == EVENT_ENTRANCE
            )
        ).one()
    body = {
        "checkin_id": first.id,
        "registration_id": reg.id,
        "event_id": event_id,
        "attendee_id": attendee_id,
        "checked_in_at": _iso(first.checked_in_at),
    }
    return WriteResult(created, body, attendee_id)


def session_page(engine: Engine, session_id: int) -> dict[str, Any] | None:
    """One session with its event and how many checked in to it; None if unknown."""
    with engine.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            return None
        attended = conn.execute(
            select(func.count()).select_from(check_ins).where(check_ins.c.session_id == session_id)
        ).scalar_one()
    return {
        "id": row.id,
        "event_id": row.event_id,
        "title": row.title,
        "room": row.room,
        "starts_at": _iso(row.starts_at),
        "ends_at": _iso(row.ends_at),
        "capacity": row.capacity,
        "checked_in": int(attended),
    }


def attendee_contact(engine: Engine, attendee_id: int) -> str | None:
    """The attendee's e-mail address (where notifications go); None if unknown."""
    with engine.connect() as conn:
        email = conn.execute(
            select(attendees.c.email).where(attendees.c.id == attendee_id)
        ).scalar()
    return str(email) if email is not None else None
