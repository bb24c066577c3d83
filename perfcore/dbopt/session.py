"""The advisor's only path to the server: every statement is tagged, checked and recorded.

Three guarantees rest here.  Each statement carries the ``/* perfcore-advisor */``
tag, so :mod:`perfcore.dbopt.collect` never reads the advisor's own traffic back
from the slow log.  Each statement must start with an allowed verb (catalog
reads, ``EXPLAIN``, ``ANALYZE``, ``CREATE``/``DROP INDEX``, ``ALTER INDEX``
visibility, session settings); anything else raises before it reaches the
server.  And each statement is recorded: tests assert on the exact list, and
the report says how many were sent.

Text from a slow log reaches the server only through
:func:`perfcore.dbopt.planner.explain` and :func:`perfcore.dbopt.planner.measure_ms`,
which take a statement that :mod:`perfcore.dbopt.analyze` already parsed into a
single read-only SELECT and regenerated from its syntax tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

TAG = "/* perfcore-advisor */"

_ALLOWED = re.compile(
    r"^(SELECT|SHOW|EXPLAIN|ANALYZE|SET SESSION|START TRANSACTION READ ONLY|ROLLBACK"
    r"|CREATE INDEX|DROP INDEX|ALTER TABLE \S+ ALTER INDEX \S+ (?:VISIBLE|IGNORED|NOT IGNORED)$)\b",
    re.IGNORECASE,
)


class StatementRefused(RuntimeError):
    """The advisor tried to send a statement outside its allow-list (a bug, never data)."""


class Session:
    """A tagged, allow-listed, recorded connection (autocommit)."""

    def __init__(self, connection: sa.Connection, time_limit_s: float = 5.0) -> None:
        self.connection = connection
        self.statements: list[str] = []
        # Bound on every statement that plans or runs text from a log (EXPLAIN, ANALYZE).
        self.time_limit_s = time_limit_s
        self.server: str | None = None  # "mariadb" or "mysql", once detected

    def run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute one statement and return its rows (empty for statements without rows)."""
        result = self._execute(sql, params)
        if not result.returns_rows:
            return []
        return [tuple(row) for row in result.fetchall()]

    def records(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column label (EXPLAIN's columns differ between servers)."""
        result = self._execute(sql, params)
        return [dict(row._mapping) for row in result.fetchall()] if result.returns_rows else []

    def _execute(self, sql: str, params: Sequence[Any] | None) -> sa.CursorResult[Any]:
        text = self._checked(sql)
        if params:
            return self.connection.exec_driver_sql(text, tuple(params))
        # Without parameters the text must reach the server byte for byte: PyMySQL
        # %-formats whenever it is handed an argument tuple, even an empty one, so a
        # LIKE 'PROMO%' would raise and a '%s' literal would be rewritten.
        # ``no_parameters`` makes SQLAlchemy call cursor.execute(text) alone.
        return self.connection.execution_options(no_parameters=True).exec_driver_sql(text)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.run(sql, params)
        return rows[0][0] if rows and rows[0] else None

    def _checked(self, sql: str) -> str:
        body = sql.strip()
        if not _ALLOWED.match(body) or ";" in _strip_literals(body):
            raise StatementRefused(f"refusing to send: {body[:80]}")
        text = f"{TAG} {body}"
        self.statements.append(text)
        return text

    def status(self, name: str) -> str | None:
        """One session status variable (``Last_query_cost``, ...)."""
        rows = self.run("SHOW SESSION STATUS LIKE %s", [name])
        return str(rows[0][1]) if rows else None


def _strip_literals(sql: str) -> str:
    """``sql`` without quoted strings and identifiers, to look for a second statement."""
    return re.sub(r"'(?:[^'\\]|\\.|'')*'|`(?:[^`]|``)*`|\"(?:[^\"\\]|\\.)*\"", "", sql)


def connect(dsn: str) -> sa.Engine:
    """An autocommit engine for ``dsn`` (``mysql+pymysql://...``)."""
    return sa.create_engine(dsn, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
