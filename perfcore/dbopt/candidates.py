"""Index candidates from column usage, and the seed's naive list to compare against.

For each table occurrence a statement reads, the candidate key is its
equality columns (literal equalities first, then join columns, which act as
equalities once the other table is read), followed by *one* of: a range
column, the GROUP BY columns, or the ORDER BY columns; at most
``max_columns`` parts.  Candidates an existing index already serves (its
leftmost columns) are skipped, and a candidate that is a prefix of another
on the same table is dropped in favour of the longer one, which serves the
same queries.  Pure: the planner decides later (:mod:`perfcore.dbopt.verify`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfcore.dbopt.analyze import Analysis, TableUsage
from perfcore.dbopt.fingerprint import QueryStats
from perfcore.dbopt.schema import UNINDEXABLE, Catalog, Table, index_name


@dataclass(frozen=True)
class Candidate:
    table: str
    columns: tuple[str, ...]
    equality_count: int  # leading parts compared with '=', whose order does not matter
    queries: tuple[str, ...]  # fingerprints of the statements it serves
    weight_s: float  # total slow time of those statements
    size_bytes: int

    @property
    def name(self) -> str:
        return index_name(self.table, self.columns)


Analysed = tuple[QueryStats, Analysis]


def shapes(usage: TableUsage, table: Table, max_columns: int) -> list[tuple[tuple[str, ...], int]]:
    """Candidate keys ``(columns, equality_count)`` for one table occurrence.

    Composites (equalities, then one range / GROUP BY / ORDER BY tail) come
    first, then each join and range column alone, so a column that only ever
    appears behind others still gets a chance to lead.
    """

    def indexable(columns: Sequence[str]) -> list[str]:
        kept = []
        for name in columns:
            column = table.column(name)
            if column is not None and column.data_type not in UNINDEXABLE and name not in kept:
                kept.append(column.name)
        return kept

    equality = indexable([*usage.equality, *usage.joins])
    literal_only = indexable(usage.equality)
    if _finds_one_row(table, literal_only):
        return []  # a unique key already finds the row: no index can do better
    ranges = indexable(usage.ranges)
    tails = [[r] for r in ranges[:2]]
    tails += [indexable(usage.group_by), indexable(usage.order_by)]
    found: list[tuple[tuple[str, ...], int]] = []

    def add(head: Sequence[str], tail: Sequence[str]) -> None:
        shaped = without_primary_key(table, [*head, *tail])
        columns = tuple(shaped[:max_columns])
        count = min(len([c for c in head if c in columns]), len(columns))
        if columns and (columns, count) not in found:
            found.append((columns, count))

    heads = [equality] if literal_only == equality or not literal_only else [equality, literal_only]
    for head in heads:
        for tail in [[], *tails]:
            rest = [c for c in tail if c not in head]
            if not tail or rest:
                add(head, rest)
    for column in [*indexable(usage.joins), *ranges]:
        add([column] if column in equality else [], [] if column in equality else [column])
    return found


def without_primary_key(table: Table, columns: Sequence[str]) -> list[str]:
    """``columns`` with primary-key columns taken out of every position but the first.

    InnoDB appends the primary key to every secondary index, so a key column
    in the middle only widens the index and splits the columns behind it.  A
    key that would start with the primary key's first column is the clustered
    index's prefix already: nothing is left.
    """
    primary = [c.lower() for c in table.primary_key]
    if not primary:
        return list(columns)
    if columns and columns[0].lower() == primary[0]:
        return []
    return [c for i, c in enumerate(columns) if i == 0 or c.lower() not in primary]


def _finds_one_row(table: Table, equality: Sequence[str]) -> bool:
    compared = {c.lower() for c in equality}
    return any(
        index.unique and {c.lower() for c in index.columns} <= compared
        for index in table.indexes.values()
    )


def served_by_existing(table: Table, columns: tuple[str, ...], equality_count: int) -> bool:
    """An existing index's leftmost columns already give this key (equalities in any order)."""
    head, tail = set(columns[:equality_count]), columns[equality_count:]
    for index in table.indexes.values():
        if len(index.columns) < len(columns):
            continue
        if (
            set(index.columns[:equality_count]) == head
            and index.columns[equality_count : len(columns)] == tail
        ):
            return True
    # A unique index whose columns are all compared with '=' already finds at most one row.
    return any(index.unique and set(index.columns) <= head for index in table.indexes.values())


def size_of(table: Table, columns: Sequence[str]) -> int:
    """Estimated bytes of an index on ``columns`` (the primary key rides along in InnoDB)."""
    widths = [c.width for name in (*columns, *table.primary_key) if (c := table.column(name))]
    return max(1, table.rows) * (sum(widths) + 16)


def propose(
    analysed: Sequence[Analysed], catalog: Catalog, max_columns: int, min_table_rows: int = 0
) -> list[Candidate]:
    """Deduplicated, non-redundant candidates, heaviest first.

    Tables under ``min_table_rows`` rows get none: a full scan of them takes
    microseconds, and a slot spent there is one a large table does not get.
    """
    served: dict[tuple[str, tuple[str, ...]], tuple[int, dict[str, float]]] = {}
    for stats, analysis in analysed:
        for usage in analysis.usages:
            table = catalog.table(usage.table)
            if table is None or table.rows < min_table_rows:
                continue
            for columns, equality_count in shapes(usage, table, max_columns):
                if served_by_existing(table, columns, equality_count):
                    continue
                _, queries = served.setdefault((table.name, columns), (equality_count, {}))
                queries[stats.fingerprint] = stats.total_s
    keys = list(served)
    result = []
    for table_name, columns in keys:
        longer = [
            other
            for other_table, other in keys
            if other_table == table_name
            and len(other) > len(columns)
            and other[: len(columns)] == columns
        ]
        equality_count, queries = served[(table_name, columns)]
        if longer:
            # The longest extension inherits the statements this prefix served.
            target = max(longer, key=len)
            served[(table_name, target)][1].update(queries)
            continue
        result.append((table_name, columns, equality_count))
    candidates = [
        Candidate(
            table=table_name,
            columns=columns,
            equality_count=equality_count,
            queries=tuple(served[(table_name, columns)][1]),
            weight_s=sum(served[(table_name, columns)][1].values()),
            size_bytes=size_of(catalog.tables[table_name], columns),
        )
        for table_name, columns, equality_count in result
    ]
    candidates.sort(key=lambda c: (-c.weight_s, c.table, c.columns))
    return candidates


def naive(analysed: Sequence[Analysed], catalog: Catalog, limit: int = 10) -> list[Candidate]:
    """The seed's approach: one index per WHERE, JOIN and ORDER BY column list, unverified."""
    found: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
    for stats, analysis in analysed:
        for usage in analysis.usages:
            table = catalog.table(usage.table)
            if table is None:
                continue
            for columns in (usage.where, usage.joins, usage.order_by):
                key = tuple(
                    c
                    for c in columns
                    if (col := table.column(c)) and col.data_type not in UNINDEXABLE
                )
                if key:
                    found.setdefault((table.name, key[:16]), {})[stats.fingerprint] = stats.total_s
    ranked = sorted(found.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [
        Candidate(
            table,
            columns,
            0,
            tuple(queries),
            sum(queries.values()),
            size_of(catalog.tables[table], columns),
        )
        for (table, columns), queries in ranked[:limit]
    ]
