"""Slow-query sources: ``mysql.slow_log``, the statement digest table, a slow-log file.

Each source yields :class:`Sample` rows; none of them ever returns the
advisor's own statements (they carry :data:`~perfcore.dbopt.session.TAG`).
Statements are analysed by their verb: SELECT (also behind ``WITH`` or an
opening parenthesis), UPDATE and DELETE; the advisor indexes reads and the
WHERE clauses of writes, and the analysis decides (and the report says) which
of those it plans and why it skips the rest.  Every other statement (INSERT,
SET, LOAD DATA, ...) and every file entry whose header cannot be read is still
returned, with :attr:`Sample.skipped` saying why, so the report lists it per
shape instead of dropping it silently.  Text that is
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
    skipped: str | None = None  # why the advisor does not analyse it (listed in the report)


NOT_ANALYSED = "not a SELECT: not analysed"


def own(sql: str) -> bool:
    """Whether a statement is the advisor's own (never reported: it is not the workload)."""
    return _TAG_MARK in sql or TAG in sql


def keep(sql: str) -> bool:
    """Whether a logged statement is one the advisor analyses (never its own)."""
    return not own(sql) and bool(_KEPT.match(sql))


def skip_reason(sql: str) -> str | None:
    """None for a statement the advisor analyses, else why it is only listed."""
    return None if keep(sql) else NOT_ANALYSED


def listed(sql: str) -> bool:
    """Whether a logged statement appears in the report at all (analysed or skipped)."""
    return bool(sql.strip()) and not own(sql)


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
        if not listed(sql):
            continue
        seconds = _seconds(query_time)
        examined, sent = int(rows_examined), int(rows_sent)
        db_name = _text(db) or None
        samples.append(
            Sample(sql, db_name, seconds, seconds, examined, sent, skipped=skip_reason(sql))
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
            skipped=skip_reason(_text(sample)),
        )
        for sample, schema, count, total, peak, examined, sent in rows
        if listed(_text(sample))
    ]


_HEADER = re.compile(
    r"#\s*Query_time:\s*([\d.]+)\s+Lock_time:\s*[\d.]+\s+Rows_sent:\s*(\d+)\s+Rows_examined:\s*(\d+)"
)
_USE = re.compile(r"^use\s+`?([^`;\s]+)`?;\s*$", re.IGNORECASE)
_SET_TIMESTAMP = re.compile(r"^SET\s+timestamp\s*=\s*\d+;\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Header:
    seconds: float
    rows_sent: int
    rows_examined: int
    problem: str | None = None  # the header could not be read: the entry is listed, not analysed


def _header(match: re.Match[str]) -> _Header:
    sent, examined = int(match.group(2)), int(match.group(3))
    try:
        return _Header(float(match.group(1)), sent, examined)
    except ValueError:  # e.g. '1.2.3': the pattern admits any run of digits and dots
        return _Header(0.0, sent, examined, f"Query_time {match.group(1)!r} is not a number")


def parse_slow_log_file(lines: Iterable[str]) -> Iterator[Sample]:
    """Entries of a MySQL/MariaDB slow-log file (``slow_query_log_file`` format)."""
    db: str | None = None
    header: _Header | None = None
    body: list[str] = []

    def flush() -> Iterator[Sample]:
        if header is not None and body:
            sql = "\n".join(body).strip().rstrip(";").strip()
            if listed(sql):
                reason = header.problem or skip_reason(sql)
                yield Sample(sql, db, header.seconds, header.seconds, header.rows_examined,
                             header.rows_sent, source="file", skipped=reason)  # fmt: skip

    for raw in lines:
        line = raw.rstrip("\n")
        match = _HEADER.search(line)
        if match:
            yield from flush()
            header = _header(match)
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
