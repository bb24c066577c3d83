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


def detect_flavour(session: Session) -> Flavour:
    version = str(session.scalar("SELECT VERSION()"))
    numbers = [int(n) for n in re.findall(r"\d+", version)[:2]] + [0, 0]
    name: Literal["mariadb", "mysql"] = "mariadb" if "mariadb" in version.lower() else "mysql"
    return Flavour(name, (numbers[0], numbers[1]))


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
    """EXPLAIN one regenerated SELECT inside a read-only transaction."""
    session.run("START TRANSACTION READ ONLY")
    try:
        rows = session.records("EXPLAIN " + select_sql)
        cost = float(session.status("Last_query_cost") or 0)
    finally:
        session.run("ROLLBACK")
    per_select: dict[Any, float] = {}
    keys: set[str] = set()
    for row in rows:
        lowered = {str(k).lower(): v for k, v in row.items()}
        estimate = float(lowered.get("rows") or 1) * float(lowered.get("filtered") or 100) / 100
        select_id = lowered.get("id")
        per_select[select_id] = per_select.get(select_id, 1.0) * max(estimate, 1.0)
        if lowered.get("key"):
            keys.update(str(lowered["key"]).split(","))
    return Plan(
        cost=cost if math.isfinite(cost) else 0.0,
        rows=sum(per_select.values()),
        keys=frozenset(keys),
    )


def measure_ms(
    session: Session, flavour: Flavour, select_sql: str, timeout_s: float
) -> float | None:
    """One timed execution on the server (results discarded there); None if it timed out."""
    if flavour.name == "mariadb":
        session.run(f"SET SESSION max_statement_time = {float(timeout_s):.3f}")
        statement = "ANALYZE FORMAT=JSON " + select_sql
    else:
        session.run(f"SET SESSION max_execution_time = {int(timeout_s * 1000)}")
        statement = "EXPLAIN ANALYZE " + select_sql
    session.run("START TRANSACTION READ ONLY")
    try:
        rows = session.run(statement)
    except sqlalchemy.exc.OperationalError:
        return None
    finally:
        session.run("ROLLBACK")
        session.run(
            "SET SESSION max_statement_time = 0"
            if flavour.name == "mariadb"
            else "SET SESSION max_execution_time = 0"
        )
    text = str(rows[0][0]) if rows else ""
    if flavour.name == "mariadb":
        document = json.loads(text)
        optimise = float(document.get("query_optimization", {}).get("r_total_time_ms", 0.0))
        return optimise + float(document["query_block"].get("r_total_time_ms", 0.0))
    # MySQL: the root iterator's "actual time=first..last" is the whole statement.
    match = re.search(r"actual time=[\d.]+\.\.([\d.]+)", text)
    return float(match.group(1)) if match else None
