"""The planner's view of a statement: estimated cost, chosen indexes, measured latency.

Server flavour comes from ``VERSION()``: MariaDB reports ``...-MariaDB``.
Cost is ``Last_query_cost`` after EXPLAIN when the server computes it (simple
statements), else the product of EXPLAIN's row estimates per SELECT (both
servers), so before/after always compare like with like.

Latency is measured only for a statement :mod:`perfcore.dbopt.analyze`
regenerated as a read-only SELECT, inside ``START TRANSACTION READ ONLY`` with
a statement time limit, through the servers' profiling statements
(MariaDB ``ANALYZE FORMAT=JSON``, MySQL ``EXPLAIN ANALYZE``) so no rows are
returned to the advisor.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy.exc

from perfcore.dbopt.session import Session


@dataclass(frozen=True)
class Flavour:
    name: Literal["mariadb", "mysql"]
    version: tuple[int, int]

    @property
    def has_invisible_indexes(self) -> bool:
        return self.name == "mysql" and self.version >= (8, 0)

    @property
    def has_ignored_indexes(self) -> bool:
        """MariaDB 10.6+ hides an index from the planner without dropping it (``IGNORED``)."""
        return self.name == "mariadb" and self.version >= (10, 6)


def detect_flavour(session: Session) -> Flavour:
    version = str(session.scalar("SELECT VERSION()"))
    numbers = [int(n) for n in re.findall(r"\d+", version)[:2]] + [0, 0]
    name: Literal["mariadb", "mysql"] = "mariadb" if "mariadb" in version.lower() else "mysql"
    session.server = name
    return Flavour(name, (numbers[0], numbers[1]))


class PlanError(RuntimeError):
    """The server refused to plan one statement (unknown column, time limit, ...): skip it."""


# Client-side error codes for a lost or unreachable server; everything else the
# server says about one statement concerns that statement only.
_CONNECTION_ERRORS = frozenset({2002, 2003, 2005, 2006, 2013, 2055})


def is_connection_error(exc: sqlalchemy.exc.DBAPIError) -> bool:
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return bool(exc.connection_invalidated) or code in _CONNECTION_ERRORS


def server_reason(exc: sqlalchemy.exc.DBAPIError) -> str:
    """The server's one-line message for ``exc`` (``1054: Unknown column ...``)."""
    args = exc.orig.args if exc.orig is not None else ()
    if len(args) >= 2:
        return f"{args[0]}: {str(args[1]).splitlines()[0]}"
    return str(exc.orig or exc).splitlines()[0]


@contextmanager
def bounded_read_only(session: Session) -> Iterator[None]:
    """A read-only transaction whose statements stop after ``session.time_limit_s``.

    ``max_statement_time`` (MariaDB, seconds) or ``max_execution_time`` (MySQL,
    milliseconds) is set for the session around the transaction and lifted
    afterwards, so DDL the advisor sends later is not cut short.  A statement
    the server rejects raises :class:`PlanError`; a lost connection propagates.
    """
    if session.server is None:
        detect_flavour(session)
    limit = max(session.time_limit_s, 0.001)
    if session.server == "mariadb":
        on, off = (
            f"SET SESSION max_statement_time = {limit:.3f}",
            "SET SESSION max_statement_time = 0",
        )
    else:
        on, off = (
            f"SET SESSION max_execution_time = {int(limit * 1000)}",
            "SET SESSION max_execution_time = 0",
        )
    session.run(on)
    try:
        session.run("START TRANSACTION READ ONLY")
        try:
            yield
        except sqlalchemy.exc.DBAPIError as exc:
            if is_connection_error(exc):
                raise
            raise PlanError(server_reason(exc)) from None
        finally:
            session.run("ROLLBACK")
    finally:
        session.run(off)


@dataclass(frozen=True)
class Plan:
    cost: float  # Last_query_cost, or 0 when the server did not compute one
    rows: float  # product of row estimates, summed over SELECTs
    keys: frozenset[str]  # every index the plan uses

    def cost_measure(self, other: Plan) -> tuple[float, float]:
        """(self, other) on one scale: optimizer cost when both have it, else row estimates."""
        if self.cost > 0 and other.cost > 0:
            return self.cost, other.cost
        return self.rows, other.rows


def explain(session: Session, select_sql: str) -> Plan:
    """EXPLAIN one regenerated SELECT, read-only and time-limited (:class:`PlanError` if refused)."""
    with bounded_read_only(session):
        rows = session.records("EXPLAIN " + select_sql)
        cost = _number(session.status("Last_query_cost"))
    per_select: dict[Any, float] = {}
    keys: set[str] = set()
    for row in rows:
        lowered = {str(k).lower(): v for k, v in row.items()}
        filtered = _number(lowered.get("filtered"), 100.0)
        estimate = _number(lowered.get("rows"), 1.0) * filtered / 100
        select_id = lowered.get("id")
        per_select[select_id] = per_select.get(select_id, 1.0) * max(estimate, 1.0)
        if lowered.get("key"):
            # 'ka|kb' is an access index with a rowid filter; 'a,b' an index merge.
            keys.update(re.split(r"[,|]", str(lowered["key"])))
    return Plan(
        cost=cost if math.isfinite(cost) else 0.0,
        rows=sum(per_select.values()),
        keys=frozenset(keys),
    )


_LEADING_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def _number(value: object, default: float = 0.0) -> float:
    """A number from an EXPLAIN cell: ``2381``, ``'2381 (30%)'`` (rowid filter), NULL."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    match = _LEADING_NUMBER.match(str(value))
    return float(match.group(1)) if match else default


def measure_ms(
    session: Session, flavour: Flavour, select_sql: str, timeout_s: float
) -> float | None:
    """One timed execution on the server (results discarded there); None if it was refused."""
    statement = (
        "ANALYZE FORMAT=JSON " if flavour.name == "mariadb" else "EXPLAIN ANALYZE "
    ) + select_sql
    previous, session.time_limit_s = session.time_limit_s, timeout_s
    try:
        with bounded_read_only(session):
            started = time.perf_counter()
            rows = session.run(statement)
            wall_ms = (time.perf_counter() - started) * 1000
    except PlanError:
        return None
    finally:
        session.time_limit_s = previous
    text = str(rows[0][0]) if rows else ""
    if flavour.name == "mariadb":
        document = json.loads(text)
        block = document.get("query_block", {})
        if "r_total_time_ms" not in block:
            return wall_ms  # UNION and other shapes report no total at the top
        optimise = float(document.get("query_optimization", {}).get("r_total_time_ms", 0.0))
        return optimise + float(block["r_total_time_ms"])
    # MySQL: the root iterator's "actual time=first..last" is the whole statement.
    match = re.search(r"actual time=[\d.]+\.\.([\d.]+)", text)
    return float(match.group(1)) if match else None
