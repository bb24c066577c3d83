"""A Dexter-style greedy baseline: every single-column candidate, kept when the planner saves half.

The comparison point for the advisor in the benchmarks, as simple as the
approach it stands for: one single-column candidate for every indexable
column a statement filters, joins, groups or sorts on (no composites, no
floor for small tables, no ranking, no cap), all built at once, and every
one kept that some statement's plan uses with an estimated cost at least
``min_savings_pct`` lower.  No measurement, no pruning, no forward selection.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfcore.dbopt.candidates import Analysed, Candidate, served_by_existing, size_of
from perfcore.dbopt.planner import Flavour
from perfcore.dbopt.schema import UNINDEXABLE, Catalog
from perfcore.dbopt.session import Session
from perfcore.dbopt.verify import WhatIf, what_if


def single_columns(analysed: Sequence[Analysed], catalog: Catalog) -> list[Candidate]:
    """One candidate per (table, column) the statements use, not already an index's first column."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for stats, analysis in analysed:
        for usage in analysis.usages:
            table = catalog.table(usage.table)
            if table is None:
                continue
            for name in (*usage.where, *usage.joins, *usage.group_by, *usage.order_by):
                column = table.column(name)
                if column is None or column.data_type in UNINDEXABLE:
                    continue
                if served_by_existing(table, (column.name,), 1):
                    continue
                found.setdefault((table.name, column.name), {})[stats.fingerprint] = stats.total_s
    return [
        Candidate(
            table,
            (column,),
            1,
            tuple(queries),
            sum(queries.values()),
            size_of(catalog.tables[table], (column,)),
        )
        for (table, column), queries in sorted(found.items())
    ]


def greedy(
    session: Session,
    flavour: Flavour,
    catalog: Catalog,
    analysed: Sequence[Analysed],
    *,
    min_savings_pct: float = 50.0,
    lock_wait_timeout_s: int = 5,
) -> WhatIf:
    """Build the single-column candidates, keep the ones that pass; ``built`` stays on the server."""
    return what_if(
        session, flavour, catalog, single_columns(analysed, catalog), analysed,
        min_savings_pct=min_savings_pct, top=10**6, lock_wait_timeout_s=lock_wait_timeout_s,
        prune_cost_factor=1.0, forward_selection=False,
    )  # fmt: skip
