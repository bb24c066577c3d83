"""DDL the advisor sends: CREATE INDEX online, DROP INDEX of its own, visibility, ANALYZE TABLE.

``CREATE INDEX ... ALGORITHM=INPLACE LOCK=NONE`` on InnoDB (an online build
that never blocks writes; other engines get the plain statement), after
``SET SESSION lock_wait_timeout`` so a long transaction holding the table's
metadata lock makes the build give up instead of queueing every other query
behind it.  Every identifier is validated against the catalog and quoted.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy.exc

from perfcore.dbopt.candidates import Candidate
from perfcore.dbopt.planner import Flavour
from perfcore.dbopt.schema import Catalog, qualified, quote, validated_columns
from perfcore.dbopt.session import Session

_DUPLICATE_KEY_NAME = 1061


def create_index_sql(catalog: Catalog, candidate: Candidate, *, invisible: bool) -> str:
    table = catalog.tables[candidate.table]
    columns = ", ".join(quote(c) for c in validated_columns(table, candidate.columns))
    statement = (
        f"CREATE INDEX {quote(candidate.name)} ON {qualified(catalog, table.name)} ({columns})"
    )
    if invisible:
        statement += " INVISIBLE"
    if table.engine.lower() == "innodb":
        statement += " ALGORITHM=INPLACE LOCK=NONE"
    return statement


def drop_index_sql(catalog: Catalog, candidate: Candidate) -> str:
    return f"DROP INDEX {quote(candidate.name)} ON {qualified(catalog, candidate.table)}"


def visible_sql(catalog: Catalog, candidate: Candidate) -> str:
    return f"ALTER TABLE {qualified(catalog, candidate.table)} ALTER INDEX {quote(candidate.name)} VISIBLE"


def ignored_sql(catalog: Catalog, candidate: Candidate, ignored: bool) -> str:
    """MariaDB 10.6+: hide an index from the planner without dropping it (metadata only)."""
    state = "IGNORED" if ignored else "NOT IGNORED"
    return f"ALTER TABLE {qualified(catalog, candidate.table)} ALTER INDEX {quote(candidate.name)} {state}"


def analyze_sql(catalog: Catalog, tables: Iterable[str]) -> str:
    return "ANALYZE TABLE " + ", ".join(qualified(catalog, t) for t in sorted(set(tables)))


def create_index(
    session: Session,
    flavour: Flavour,
    catalog: Catalog,
    candidate: Candidate,
    lock_wait_timeout_s: int,
) -> str | None:
    """Build one index; ``None`` on success, else the server's reason.

    An index of the same name already present is left alone (the name is
    derived from the columns, so it is the same index): the build is a no-op.
    """
    session.run(f"SET SESSION lock_wait_timeout = {int(lock_wait_timeout_s)}")
    try:
        session.run(create_index_sql(catalog, candidate, invisible=flavour.has_invisible_indexes))
    except sqlalchemy.exc.DBAPIError as exc:
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        if code == _DUPLICATE_KEY_NAME:
            return "an index of this name already exists"
        return str(
            exc.orig.args[-1] if exc.orig is not None and exc.orig.args else exc
        ).splitlines()[0]
    return None


def drop_index(session: Session, catalog: Catalog, candidate: Candidate) -> None:
    session.run(drop_index_sql(catalog, candidate))


def make_visible(session: Session, catalog: Catalog, candidate: Candidate) -> None:
    session.run(visible_sql(catalog, candidate))


def analyze_tables(session: Session, catalog: Catalog, tables: Iterable[str]) -> None:
    """Refresh statistics of the touched tables (``ANALYZE TABLE`` returns a status row per table)."""
    names = sorted(set(tables))
    if names:
        session.run(analyze_sql(catalog, names))
