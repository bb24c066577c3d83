"""Job handlers: the work each job type does against the reference database.

The seed's processor handled four types (analytics_processing,
notification_sending, data_export, report_generation) and routed six others
by urgency without ever handling them.  Here every one of the ten types has a
handler: the six routing types are kinds of the four (an emergency alert *is*
a notification, a user report *is* a report, ...).

Handlers are plain synchronous functions of ``(JobContext, data)`` returning a
JSON-serialisable result; the worker runs them in a thread.  They know nothing
of BullMQ: an unknown type raises :class:`UnknownJobType` and invalid data
raises :class:`InvalidJobData`, which the worker turns into a failure without
retries (retrying cannot fix either).  Every write is idempotent per job key,
so a job recovered from a dead worker does not act twice.
"""

from __future__ import annotations

import csv
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, and_, case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from perfcore.config import format_validation_error
from perfcore.platform import PLATFORM
from perfcore.platform.schema import events, notifications, registrations, report_aggregates


class UnknownJobType(LookupError):
    """No handler for this job type."""


class InvalidJobData(ValueError):
    """The job's data does not match its type's schema."""


@dataclass(frozen=True)
class JobContext:
    """What a handler may use: the database, the export directory, the job's unique key."""

    engine: Engine
    export_dir: Path
    job_key: str


Handler = Callable[[JobContext, dict[str, Any]], dict[str, Any]]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_In = TypeVar("_In", bound=_Input)
_T = TypeVar("_T")


class EventsInput(_Input):
    event_ids: list[int] | None = Field(None, description="None = every event")


class NotificationInput(_Input):
    recipient: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200)
    body: str = ""
    channel: Literal["email", "sms", "push"] = "email"


ExportTable = Literal["events", "registrations"]  # the tables a data export may write


class ExportInput(_Input):
    table: ExportTable = "registrations"
    event_id: int | None = None


def _parse(model: type[_In], data: dict[str, Any]) -> _In:
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        raise InvalidJobData(format_validation_error(exc)) from None


# InnoDB: a deadlock, or a lock wait that timed out. Concurrent delete + insert
# of one report's rows take next-key locks on the unique index and deadlock now
# and then; MySQL's guidance is to run the transaction again.
_RETRYABLE_MYSQL = {1213, 1205}
_TRANSACTION_ATTEMPTS = 5


def _transaction(engine: Engine, work: Callable[[Connection], _T]) -> _T:
    """Run ``work`` in one transaction, again (with jittered back-off) after a deadlock."""
    for attempt in range(1, _TRANSACTION_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code not in _RETRYABLE_MYSQL or attempt == _TRANSACTION_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    raise AssertionError("unreachable")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _replace_aggregates(conn: Connection, report: str, rows: dict[int, dict[str, float]]) -> None:
    """Replace ``report``'s rows for these events (delete + insert: portable and idempotent)."""
    if not rows:
        return
    conn.execute(
        delete(report_aggregates).where(
            and_(report_aggregates.c.report == report, report_aggregates.c.event_id.in_(rows))
        )
    )
    now = _now()
    conn.execute(
        insert(report_aggregates),
        [
            {"report": report, "event_id": eid, "metric": m, "value": v, "computed_at": now}
            for eid, metrics in rows.items()
            for m, v in metrics.items()
        ],
    )


def analytics_processing(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Registration counts per event and status -> ``report_aggregates`` (report ``analytics``)."""
    job = _parse(EventsInput, data)
    query = select(
        registrations.c.event_id, registrations.c.status, func.count().label("n")
    ).group_by(registrations.c.event_id, registrations.c.status)
    if job.event_ids is not None:
        query = query.where(registrations.c.event_id.in_(job.event_ids))

    def compute(conn: Connection) -> dict[int, dict[str, float]]:
        rows: dict[int, dict[str, float]] = {}
        for event_id, status, n in conn.execute(query):
            rows.setdefault(int(event_id), {})[f"registrations_{status}"] = float(n)
        _replace_aggregates(conn, "analytics", rows)
        return rows

    rows = _transaction(ctx.engine, compute)
    return {"events": len(rows), "metrics": sum(len(m) for m in rows.values())}


def report_generation(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Per-event summary (registrations, fill ratio, cancellation rate) -> ``report_aggregates``."""
    job = _parse(EventsInput, data)
    confirmed = func.sum(case((registrations.c.status == "confirmed", 1), else_=0))
    cancelled = func.sum(case((registrations.c.status == "cancelled", 1), else_=0))
    query = (
        select(
            events.c.id,
            events.c.capacity,
            func.count(registrations.c.id),
            func.coalesce(confirmed, 0),
            func.coalesce(cancelled, 0),
        )
        .select_from(events.outerjoin(registrations, registrations.c.event_id == events.c.id))
        .group_by(events.c.id, events.c.capacity)
    )
    if job.event_ids is not None:
        query = query.where(events.c.id.in_(job.event_ids))

    def compute(conn: Connection) -> dict[int, dict[str, float]]:
        rows = {
            int(eid): {
                "registrations": float(total),
                "fill_ratio": float(conf) / capacity if capacity else 0.0,
                "cancellation_rate": float(canc) / total if total else 0.0,
            }
            for eid, capacity, total, conf, canc in conn.execute(query)
        }
        _replace_aggregates(conn, "event_summary", rows)
        return rows

    return {"events": len(_transaction(ctx.engine, compute))}


def notification_sending(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Queue the message in ``notifications`` (the outbox a relay delivers from), once per job."""
    job = _parse(NotificationInput, data)
    find = select(notifications.c.id).where(notifications.c.job_key == ctx.job_key)
    with ctx.engine.begin() as conn:
        existing = conn.execute(find).scalar_one_or_none()
        if existing is not None:
            return {"outbox_id": existing, "duplicate": True}
        try:
            with conn.begin_nested():
                result = conn.execute(
                    insert(notifications).values(
                        job_key=ctx.job_key,
                        channel=job.channel,
                        recipient=job.recipient,
                        subject=job.subject,
                        payload=job.body,
                        status="pending",
                        created_at=_now(),
                    )
                )
        except IntegrityError:  # a concurrent copy of this job won the race
            return {"outbox_id": conn.execute(find).scalar_one(), "duplicate": True}
        key = result.inserted_primary_key
        return {"outbox_id": key[0] if key else None, "duplicate": False}


def data_export(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Write a table (optionally one event's rows) to a CSV file named after the job."""
    job = _parse(ExportInput, data)
    table = events if job.table == "events" else registrations
    query = select(table).order_by(table.c.id)
    if job.event_id is not None:
        column = table.c.id if job.table == "events" else table.c.event_id
        query = query.where(column == job.event_id)
    ctx.export_dir.mkdir(parents=True, exist_ok=True)
    safe_key = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ctx.job_key)
    path = ctx.export_dir / f"{job.table}-{safe_key}.csv"
    partial = path.with_suffix(".csv.partial")
    count = 0
    # 0600: an export holds registrants' data, readable by the service's user only.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with ctx.engine.connect() as conn, open(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([column.name for column in table.columns])
        for row in conn.execute(query):
            writer.writerow(row)
            count += 1
    # Readers never see a half-written export, and a retry overwrites, not appends.
    os.replace(partial, path)
    return {"path": str(path), "rows": count}


# The kind of work behind each handler name of the platform description.
_BY_KIND: dict[str, Handler] = {
    "notification": notification_sending,
    "analytics": analytics_processing,
    "report": report_generation,
    "export": data_export,
}
# Every job type of the platform, handled as the kind of work it is (an
# emergency alert *is* a notification, a user report *is* a report, ...).
HANDLERS: dict[str, Handler] = {
    name: _BY_KIND[job.handler] for name, job in PLATFORM.job_types.items()
}


# The input model of each kind of work, and so of each platform job type: a
# producer checks a job's data against it before enqueueing (a job that can
# only fail at the worker is refused at once), and the handler parses it again.
_INPUT_BY_KIND: dict[str, type[_Input]] = {
    "notification": NotificationInput,
    "analytics": EventsInput,
    "report": EventsInput,
    "export": ExportInput,
}
INPUT_MODELS: dict[str, type[_Input]] = {
    name: _INPUT_BY_KIND[job.handler] for name, job in PLATFORM.job_types.items()
}


def check_job(
    job_type: str, data: dict[str, Any], handlers: dict[str, Handler] | None = None
) -> None:
    """Raise :class:`UnknownJobType` or :class:`InvalidJobData` for a job no handler would accept.

    ``handlers`` (default: the built-in ones) may add job types or replace a
    built-in handler; data is checked against the built-in input model only
    where the built-in handler is the one that will run.
    """
    handler = handler_for(job_type, handlers)
    model = INPUT_MODELS.get(job_type)
    if model is not None and handler is HANDLERS.get(job_type):
        _parse(model, data)


def handler_for(job_type: str, handlers: dict[str, Handler] | None = None) -> Handler:
    """The handler of ``job_type``; :class:`UnknownJobType` when there is none."""
    found = (HANDLERS if handlers is None else handlers).get(job_type)
    if found is None:
        raise UnknownJobType(f"unknown job type {job_type!r}")
    return found
