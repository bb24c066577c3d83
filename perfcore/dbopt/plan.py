"""Plan, then apply exactly the plan: ``plan.json`` and the schema fingerprint it is bound to.

``perfcore db advise --out DIR`` writes the chosen indexes with their DDL and
evidence, and a fingerprint of the schema they were chosen for (tables,
columns and their types, indexes; not row counts).  ``perfcore db apply
DIR/plan.json`` refuses a plan whose fingerprint no longer matches the
database, and otherwise builds exactly the listed indexes: the DDL is
regenerated from the catalog (validated, quoted identifiers) and must equal
the plan's text, so an edited plan cannot smuggle SQL in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from perfcore.dbopt import apply
from perfcore.dbopt.candidates import Candidate
from perfcore.dbopt.planner import Flavour
from perfcore.dbopt.report import Report
from perfcore.dbopt.schema import Catalog
from perfcore.dbopt.session import Session
from perfcore.errors import BadInput, CheckFailed

PLAN_VERSION = 1


class PlannedIndex(BaseModel):
    table: str
    columns: list[str] = Field(min_length=1)
    name: str
    ddl: str
    benefit_s: float = 0.0
    size_bytes: int = 0
    evidence: list[dict[str, Any]] = Field(default_factory=list)


class IndexPlan(BaseModel):
    version: int = PLAN_VERSION
    database: str
    server: str
    schema_fingerprint: str
    indexes: list[PlannedIndex] = Field(default_factory=list)
    rejected: list[dict[str, Any]] = Field(default_factory=list)


def schema_fingerprint(catalog: Catalog) -> str:
    """A digest of the tables, columns and indexes (names, types, order), not of the data."""
    shape = [
        [
            table.name,
            table.engine.lower(),
            [[c.name, c.data_type] for c in table.columns.values()],
            sorted([i.name, list(i.columns), i.unique] for i in table.indexes.values()),
        ]
        for table in sorted(catalog.tables.values(), key=lambda t: t.name)
    ]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


def from_report(report: Report) -> IndexPlan:
    """The plan a dry run stands for: its suggestions, with the evidence for each."""
    return IndexPlan(
        database=report.database,
        server=report.server,
        schema_fingerprint=report.schema_fingerprint,
        indexes=[
            PlannedIndex(
                table=s.table,
                columns=s.columns,
                name=s.name,
                ddl=s.ddl,
                benefit_s=s.benefit_s,
                size_bytes=s.size_bytes,
                evidence=[asdict(q) for q in s.queries],
            )
            for s in report.suggestions
        ],
        rejected=report.rejected,
    )


def write(plan: IndexPlan, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.json"
    path.write_text(plan.model_dump_json(indent=2) + "\n")
    return path


def load(path: Path) -> IndexPlan:
    """Read ``path``; a malformed file is :class:`BadInput` naming the field."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        plan = IndexPlan.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "plan"
        raise BadInput(f"{path}: {where}: {error['msg']}") from None
    if plan.version != PLAN_VERSION:
        raise BadInput(f"{path}: version: expected {PLAN_VERSION}, got {plan.version}")
    return plan


def candidate_of(entry: PlannedIndex) -> Candidate:
    return Candidate(entry.table, tuple(entry.columns), 0, (), entry.benefit_s, entry.size_bytes)


def check(plan: IndexPlan, catalog: Catalog) -> None:
    """Refuse a plan for another database or schema, or whose DDL is not what it says."""
    if plan.database != catalog.database:
        raise CheckFailed(
            f"plan.json: database: made for {plan.database!r}, connected to {catalog.database!r}"
        )
    current = schema_fingerprint(catalog)
    if plan.schema_fingerprint != current:
        raise CheckFailed(
            "plan.json: schema_fingerprint: the schema changed since the plan was made"
            f" ({plan.schema_fingerprint[:12]} planned, {current[:12]} now): advise again"
        )
    for number, entry in enumerate(plan.indexes):
        candidate = candidate_of(entry)
        expected = apply.create_index_sql(catalog, candidate, invisible=False)
        if entry.ddl != expected or entry.name != candidate.name:
            raise BadInput(f"plan.json: indexes.{number}.ddl: does not match its table and columns")


def execute(
    session: Session, flavour: Flavour, catalog: Catalog, plan: IndexPlan, lock_wait_timeout_s: int
) -> list[str]:
    """Build the plan's indexes (after :func:`check`); the names built, in order."""
    check(plan, catalog)
    built: list[str] = []
    for entry in plan.indexes:
        candidate = candidate_of(entry)
        problem = apply.create_index(session, flavour, catalog, candidate, lock_wait_timeout_s)
        if problem is not None:
            for name in reversed(built):
                apply.drop_index(session, catalog, _named(plan, name))
            raise CheckFailed(f"plan.json: {entry.name}: the server refused the build: {problem}")
        if flavour.has_invisible_indexes:
            apply.make_visible(session, catalog, candidate)
        built.append(entry.name)
    apply.analyze_tables(session, catalog, {e.table for e in plan.indexes})
    return built


def _named(plan: IndexPlan, name: str) -> Candidate:
    return candidate_of(next(e for e in plan.indexes if e.name == name))
