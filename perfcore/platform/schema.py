"""The reference schema: the one set of tables the service, the job handlers and the advisor use.

SQLAlchemy Core, so the same definitions create the tables on MariaDB/MySQL
(the stack, the advisor's benchmark) and on SQLite (quick local runs). Tables
carry their primary keys and the unique keys correctness needs (one e-mail per
attendee, one check-in per registration and session, one outbox row per job,
one aggregate per report/event/metric). Secondary indexes that only make
queries fast are :data:`SERVICE_INDEXES`: the service creates them, while the
advisor's data generator leaves them out -- finding them is the advisor's job.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.schema import CreateTable, SchemaItem

metadata = MetaData()


def _table(name: str, *items: SchemaItem) -> Table:
    # InnoDB and 4-byte UTF-8 on MariaDB/MySQL; other dialects ignore the options.
    return Table(name, metadata, *items, mysql_engine="InnoDB", mysql_charset="utf8mb4")


# SQLite auto-increments only an INTEGER PRIMARY KEY; MariaDB gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

REGISTRATION_STATUSES = ("confirmed", "waitlisted", "cancelled")
EVENT_ENTRANCE = 0  # check_ins.session_id of a check-in at the event's door, not a session

events = _table(
    "events",
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("organizer_id", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("city", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # published | draft | cancelled | completed
    Column("starts_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=False),
    Column("capacity", Integer, nullable=False),
    # confirmed registrations; a registration takes a seat with one conditional
    # UPDATE (seats_taken < capacity), atomic on every database
    Column("seats_taken", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime, nullable=False),
)

attendees = _table(
    "attendees",
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(191), nullable=False),
    Column("full_name", String(120), nullable=False),
    Column("country", String(2), nullable=False),
    Column("company", String(120), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("email", name="uq_attendees_email"),
)

registrations = _table(
    "registrations",
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False),
    Column("attendee_id", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # REGISTRATION_STATUSES
    Column("ticket_type", String(16), nullable=False, server_default="standard"),
    Column("price_cents", Integer, nullable=False, server_default="0"),
    Column("registered_at", DateTime, nullable=False),
)

sessions = _table(
    "sessions",
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("event_id", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("room", String(32), nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=False),
    Column("capacity", Integer, nullable=False),
)

check_ins = _table(
    "check_ins",
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("registration_id", BigInteger, nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("session_id", Integer, nullable=False, server_default=str(EVENT_ENTRANCE)),
    Column("gate", String(16), nullable=False, server_default="main"),
    Column("checked_in_at", DateTime, nullable=False),
    # a retried or double-tapped check-in finds the first one instead of adding a row
    UniqueConstraint("registration_id", "session_id", name="uq_check_ins_registration_session"),
)

# The outbox a relay delivers from: one row per job (job_key), or per sent reminder.
notifications = _table(
    "notifications",
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job_key", String(191), nullable=True),
    Column("attendee_id", Integer, nullable=True),
    Column("event_id", Integer, nullable=True),
    Column("channel", String(16), nullable=False),  # email | sms | push
    Column("recipient", String(200), nullable=False, server_default=""),
    Column("subject", String(200), nullable=False, server_default=""),
    Column(
        "status", String(16), nullable=False, server_default="pending"
    ),  # pending | sent | failed
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    UniqueConstraint("job_key", name="uq_notifications_job_key"),
)

report_aggregates = _table(
    "report_aggregates",
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report", String(64), nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    UniqueConstraint("report", "event_id", "metric", name="uq_report_aggregates"),
)

# The service's own query indexes (what a tuned deployment has). Index() on a
# table's columns attaches to that table: create_all makes them, CREATE TABLE
# alone (bare_tables_ddl) does not.
SERVICE_INDEXES: tuple[Index, ...] = (
    Index("ix_registrations_event_status", registrations.c.event_id, registrations.c.status),
    Index("ix_registrations_attendee", registrations.c.attendee_id),
    Index("ix_check_ins_event_time", check_ins.c.event_id, check_ins.c.checked_in_at),
    Index("ix_sessions_event", sessions.c.event_id),
    Index("ix_events_starts_at", events.c.starts_at),
)


def create_schema(engine: Engine) -> None:
    """Create every missing table with the service's query indexes.

    ``create_all`` looks, then creates: a server and a job worker starting on
    an empty database can both find a table missing, and the second CREATE
    fails with "already exists". Looking again then finds the table.
    """
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError) as exc:
            if attempt == 2 or "already exists" not in str(exc.orig):
                raise


def bare_tables_ddl(engine: Engine) -> list[str]:
    """``CREATE TABLE`` statements with keys only, no :data:`SERVICE_INDEXES` (the advisor's start)."""
    return [str(CreateTable(t).compile(engine)).strip() for t in metadata.sorted_tables]


def table_names() -> list[str]:
    """Every reference table, in creation order."""
    return [t.name for t in metadata.sorted_tables]


def drop_schema(engine: Engine) -> None:
    """Drop every reference table that exists."""
    metadata.drop_all(engine)
