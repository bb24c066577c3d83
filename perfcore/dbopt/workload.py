"""The platform's typical slow statements against the reference schema, timed.

Each :class:`Shape` is one query the platform runs all day (an attendee's
registrations, an event's roster, check-ins per gate, the notification
queue, ...), with parameters drawn from a seeded generator so the runs before
and after indexing execute the very same statements.  Timing is wall time of
execute + fetch on the client, like the platform would see it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from perfcore.dbopt.datagen import CATEGORIES, CHANNELS, CITIES
from perfcore.dbopt.refschema import Scale


@dataclass(frozen=True)
class Shape:
    name: str
    render: Callable[[random.Random, dict[str, int]], str]


def _month(rng: random.Random) -> tuple[str, str]:
    year, month = rng.choice((2024, 2025, 2026)), rng.randint(1, 11)
    return f"{year}-{month:02d}-01", f"{year}-{month + 1:02d}-01"


SHAPES: tuple[Shape, ...] = (
    Shape("attendee registrations", lambda r, c: (
        "SELECT r.id, r.status, e.title, e.starts_at FROM registrations r"
        " JOIN events e ON e.id = r.event_id"
        f" WHERE r.attendee_id = {r.randint(1, c['attendees'])} ORDER BY r.registered_at DESC LIMIT 20")),
    Shape("event roster", lambda r, c: (
        "SELECT a.id, a.full_name, a.email FROM registrations AS r"
        " JOIN attendees AS a ON a.id = r.attendee_id"
        f" WHERE r.event_id = {r.randint(1, c['events'])} AND r.status = 'confirmed'")),
    Shape("check-ins per gate", lambda r, c: (
        "SELECT gate, COUNT(*) AS n FROM check_ins"
        f" WHERE event_id = {r.randint(1, c['events'])}"
        " AND checked_in_at BETWEEN '{}' AND '{}' GROUP BY gate".format(*_month(r)))),
    Shape("notification queue", lambda r, c: (
        "SELECT id, attendee_id, channel FROM notifications"
        f" WHERE status = 'pending' AND channel = '{r.choice(CHANNELS)}' ORDER BY created_at LIMIT 100")),
    Shape("attendee inbox", lambda r, c: (
        "SELECT id, channel, status, created_at FROM notifications"
        f" WHERE attendee_id = {r.randint(1, c['attendees'])} ORDER BY created_at DESC LIMIT 20")),
    Shape("upcoming events", lambda r, c: (
        "SELECT id, title, starts_at FROM `events`"
        f" WHERE category = '{r.choice(CATEGORIES)}' AND city = '{r.choice(CITIES)}'"
        " AND starts_at >= '2026-06-01' ORDER BY starts_at LIMIT 0, 50")),
    Shape("session agenda", lambda r, c: (
        "SELECT s.id, s.title, s.room, s.starts_at FROM sessions s"
        f" WHERE s.event_id = {r.randint(1, c['events'])} ORDER BY s.starts_at")),
    Shape("registrations by status", lambda r, c: (
        "SELECT event_id, status, COUNT(*) FROM registrations WHERE event_id IN ({}) GROUP BY event_id, status"
        .format(", ".join(str(r.randint(1, c["events"])) for _ in range(3))))),
    Shape("session attendance", lambda r, c: (
        "SELECT c.session_id, COUNT(*) FROM check_ins c WHERE c.session_id IN"
        f" (SELECT id FROM sessions WHERE event_id = {r.randint(1, c['events'])}) GROUP BY c.session_id")),
    Shape("daily registrations", lambda r, c: (
        "SELECT DATE(registered_at) AS day, COUNT(*) FROM registrations"
        " WHERE status = 'confirmed' AND registered_at >= '{}' AND registered_at < '{}'"
        " GROUP BY DATE(registered_at)".format(*_month(r)))),
    Shape("mark inbox sent", lambda r, c: (
        "UPDATE notifications SET status = 'sent', sent_at = '2026-11-26 12:00:00'"
        f" WHERE attendee_id = {r.randint(1, c['attendees'])} AND status = 'pending'")),
)  # fmt: skip


def statements(scale: Scale, repeats: int, seed: int = 11) -> list[tuple[str, str]]:
    """``(shape name, SQL)`` pairs: every shape ``repeats`` times, interleaved."""
    rng = random.Random(seed)
    counts = scale.counts
    return [(shape.name, shape.render(rng, counts)) for _ in range(repeats) for shape in SHAPES]


@dataclass(frozen=True)
class WorkloadResult:
    total_s: float
    per_shape_s: dict[str, float]
    statements: int


def run(
    dsn: str, scale: Scale, repeats: int = 3, *, seed: int = 11, log_all: bool = True
) -> WorkloadResult:
    """Execute the workload once; with ``log_all`` every statement reaches the slow log."""
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    per_shape: dict[str, float] = {}
    work = statements(scale, repeats, seed)
    try:
        with engine.connect() as connection:
            if log_all:
                connection.exec_driver_sql("SET SESSION long_query_time = 0")
            for name, sql in work:
                started = time.perf_counter()
                result = connection.exec_driver_sql(sql)
                if result.returns_rows:
                    result.fetchall()
                per_shape[name] = per_shape.get(name, 0.0) + time.perf_counter() - started
    finally:
        engine.dispose()
    return WorkloadResult(sum(per_shape.values()), per_shape, len(work))
