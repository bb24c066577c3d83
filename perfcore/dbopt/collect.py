"""Slow-query sources: ``mysql.slow_log``, the statement digest table, a slow-log file.

Each source yields :class:`Sample` rows; none of them ever returns the
advisor's own statements (they carry :data:`~perfcore.dbopt.session.TAG`).
Statements are kept by their verb: SELECT (also behind ``WITH`` or an opening
parenthesis), UPDATE and DELETE; the advisor indexes reads and the WHERE
clauses of writes, and the analysis decides (and the report says) which of
those it plans and why it skips the rest.  Text that is
not valid UTF-8 is read as bytes and decoded with replacement characters,
so one bad row cannot stop the read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from perfcore.dbopt.session import TAG, Session

_TAG_MARK = "perfcore-advisor"
_KEPT = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*\(?\s*(select|update|delete|with)\b", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Sample:
    """One observed statement (or a digest row standing for ``count`` executions)."""

    sql: str
    db: str | None
    total_s: float
    max_s: float
    rows_examined: int
    rows_sent: int
    count: int = 1
    source: str = "slow_log"


def keep(sql: str) -> bool:
    """Whether a logged statement is one the advisor analyses (never its own)."""
    return _TAG_MARK not in sql and TAG not in sql and bool(_KEPT.match(sql))


def _seconds(value: object) -> float:
    # PyMySQL returns TIME columns as timedelta; some builds hand back strings.
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    hours, _, rest = str(value).partition(":")
    minutes, _, seconds = rest.partition(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)


def _text(value: object) -> str:
    # MySQL 8 stores sql_text as a blob: bytes, not str.
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def from_slow_log(session: Session, since_hours: float, limit: int) -> list[Sample]:
    """Recent rows of ``mysql.slow_log`` (needs ``log_output`` to include TABLE)."""
    rows = session.run(
        "SELECT query_time, rows_sent, rows_examined, db, CAST(sql_text AS BINARY)"
        " FROM mysql.slow_log"
        " WHERE start_time >= NOW() - INTERVAL %s SECOND"
        " ORDER BY start_time DESC LIMIT %s",
        [int(since_hours * 3600), limit],
    )
    samples = []
    for query_time, rows_sent, rows_examined, db, sql_text in rows:
        sql = _text(sql_text)
        if not keep(sql):
            continue
        seconds = _seconds(query_time)
        samples.append(
            Sample(sql, _text(db) or None, seconds, seconds, int(rows_examined), int(rows_sent))
        )
    return samples


def from_digest(session: Session, since_hours: float, limit: int) -> list[Sample]:
    """``performance_schema`` digests that carry a concrete sample (MySQL 8).

    MariaDB's digest table has no ``QUERY_SAMPLE_TEXT``: a digest text with
    ``?`` cannot be EXPLAINed, so there the source returns nothing.
    """
    enabled = session.scalar("SELECT @@performance_schema")
    has_sample = session.scalar(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'performance_schema'"
        " AND TABLE_NAME = 'events_statements_summary_by_digest'"
        " AND COLUMN_NAME = 'QUERY_SAMPLE_TEXT'"
    )
    if not enabled or not has_sample:
        return []
    rows = session.run(
        "SELECT CAST(QUERY_SAMPLE_TEXT AS BINARY), SCHEMA_NAME, COUNT_STAR, SUM_TIMER_WAIT, MAX_TIMER_WAIT,"
        " SUM_ROWS_EXAMINED, SUM_ROWS_SENT"
        " FROM performance_schema.events_statements_summary_by_digest"
        " WHERE LAST_SEEN >= NOW() - INTERVAL %s SECOND AND QUERY_SAMPLE_TEXT IS NOT NULL"
        " ORDER BY SUM_TIMER_WAIT DESC LIMIT %s",
        [int(since_hours * 3600), limit],
    )
    picoseconds = 1e12
    return [
        Sample(
            sql=_text(sample),
            db=_text(schema) if schema else None,
            total_s=float(total) / picoseconds,
            max_s=float(peak) / picoseconds,
            rows_examined=int(examined),
            rows_sent=int(sent),
            count=int(count),
            source="digest",
        )
        for sample, schema, count, total, peak, examined, sent in rows
        if keep(_text(sample))
    ]


_HEADER = re.compile(
    r"#\s*Query_time:\s*([\d.]+)\s+Lock_time:\s*[\d.]+\s+Rows_sent:\s*(\d+)\s+Rows_examined:\s*(\d+)"
)
_USE = re.compile(r"^use\s+`?([^`;\s]+)`?;\s*$", re.IGNORECASE)
_SET_TIMESTAMP = re.compile(r"^SET\s+timestamp\s*=\s*\d+;\s*$", re.IGNORECASE)


def parse_slow_log_file(lines: Iterable[str]) -> Iterator[Sample]:
    """Entries of a MySQL/MariaDB slow-log file (``slow_query_log_file`` format)."""
    db: str | None = None
    header: tuple[float, int, int] | None = None
    body: list[str] = []

    def flush() -> Iterator[Sample]:
        if header is not None and body:
            sql = "\n".join(body).strip().rstrip(";").strip()
            if keep(sql):
                yield Sample(sql, db, header[0], header[0], header[2], header[1], source="file")

    for raw in lines:
        line = raw.rstrip("\n")
        match = _HEADER.search(line)
        if match:
            yield from flush()
            header = (float(match.group(1)), int(match.group(2)), int(match.group(3)))
            body = []
        elif line.startswith("#") and not body:
            continue  # other header lines (Time, User@Host, Thread_id, ...)
        elif line.startswith("# ") and body:
            yield from flush()
            header, body = None, []
        elif header is not None and _SET_TIMESTAMP.match(line) and not body:
            continue
        elif header is not None and (use := _USE.match(line)) and not body:
            db = use.group(1)
        elif header is not None:
            body.append(line)
    yield from flush()


def from_file(path: Path) -> list[Sample]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return list(parse_slow_log_file(handle))
