"""Partitioning suggestions: large tables whose slow statements mostly filter a date range.

A table qualifies when it holds at least ``partition_min_rows`` rows and at
least ``partition_min_share`` of the slow time spent on it comes from
statements with a range predicate on one of its DATE/DATETIME/TIMESTAMP
columns; partition pruning then skips whole months.  The DDL is RANGE
partitioning by month (by year beyond three years of data).

MySQL and MariaDB require every unique key, the primary key included, to
contain the partitioning column, and InnoDB refuses partitioned tables with
foreign keys: the suggestion says which keys must change (with the DDL for
the primary key) and what blocks it.  Suggestions are never applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from perfcore.dbopt.candidates import Analysed
from perfcore.dbopt.schema import TEMPORAL, Catalog, Table, qualified, quote

Bounds = Callable[[Table, str], tuple[dt.date, dt.date] | None]
_MAX_MONTHLY = 36


@dataclass
class PartitionSuggestion:
    table: str
    column: str
    rows: int
    share: float  # of the table's slow time filtered by a range on the column
    queries: list[str] = field(default_factory=list)
    ddl: list[str] = field(default_factory=list)
    key_changes: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)


def date_range_columns(
    catalog: Catalog, analysed: Sequence[Analysed]
) -> dict[str, dict[str, list[str]]]:
    """Table → temporal column → fingerprints with a range predicate on it."""
    found: dict[str, dict[str, list[str]]] = {}
    for stats, analysis in analysed:
        for usage in analysis.usages:
            table = catalog.table(usage.table)
            if table is None:
                continue
            for name in usage.ranges:
                column = table.column(name)
                if column is not None and column.data_type in TEMPORAL:
                    queries = found.setdefault(table.name, {}).setdefault(column.name, [])
                    if stats.fingerprint not in queries:
                        queries.append(stats.fingerprint)
    return found


def suggest(
    catalog: Catalog,
    analysed: Sequence[Analysed],
    bounds: Bounds,
    *,
    min_rows: int,
    min_share: float,
) -> list[PartitionSuggestion]:
    time_by_query = {stats.fingerprint: stats.total_s for stats, _ in analysed}
    table_time: dict[str, float] = {}
    for stats, analysis in analysed:
        for name in {u.table for u in analysis.usages}:
            table_time[name] = table_time.get(name, 0.0) + stats.total_s
    suggestions = []
    for table_name, columns in sorted(date_range_columns(catalog, analysed).items()):
        table = catalog.tables[table_name]
        if table.rows < min_rows or table_time.get(table_name, 0.0) <= 0:
            continue
        column, queries = max(
            columns.items(), key=lambda item: sum(time_by_query[q] for q in item[1])
        )
        share = sum(time_by_query[q] for q in queries) / table_time[table_name]
        if share < min_share:
            continue
        span = bounds(table, column)
        if span is None:
            continue
        suggestion = PartitionSuggestion(table.name, column, table.rows, share, list(queries))
        _unique_key_rule(catalog, table, column, suggestion)
        suggestion.ddl.append(partition_ddl(catalog, table, column, *span))
        suggestions.append(suggestion)
    return suggestions


def _unique_key_rule(
    catalog: Catalog, table: Table, column: str, suggestion: PartitionSuggestion
) -> None:
    for index in table.indexes.values():
        if not index.unique or column in index.columns:
            continue
        if index.name == "PRIMARY":
            parts = ", ".join(quote(c) for c in (*index.columns, column))
            suggestion.key_changes.append(
                f"ALTER TABLE {qualified(catalog, table.name)} DROP PRIMARY KEY, ADD PRIMARY KEY ({parts})"
            )
        else:
            suggestion.blockers.append(
                f"unique key {index.name} ({', '.join(index.columns)}) does not contain {column};"
                " adding it weakens the uniqueness it enforces"
            )
    if table.has_foreign_keys:
        suggestion.blockers.append("InnoDB does not partition tables with foreign keys")


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """Bounds for monthly partitions (yearly beyond three years): each is an exclusive upper bound."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months > _MAX_MONTHLY:
        return [dt.date(year + 1, 1, 1) for year in range(first.year, last.year + 1)]
    bounds = []
    year, month = first.year, first.month
    for _ in range(months):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        bounds.append(dt.date(year, month, 1))
    return bounds


def partition_ddl(
    catalog: Catalog, table: Table, column: str, first: dt.date, last: dt.date
) -> str:
    kind = table.columns[column].data_type
    parts = []
    for bound in month_starts(first, last):
        name = f"p{bound.year:04d}{bound.month:02d}"
        if kind == "timestamp":
            # RANGE COLUMNS does not accept TIMESTAMP; UNIX_TIMESTAMP is the allowed function.
            parts.append(
                f"PARTITION {name} VALUES LESS THAN (UNIX_TIMESTAMP('{bound.isoformat()} 00:00:00'))"
            )
        else:
            parts.append(f"PARTITION {name} VALUES LESS THAN ('{bound.isoformat()}')")
    by = (
        f"RANGE (UNIX_TIMESTAMP({quote(column)}))"
        if kind == "timestamp"
        else f"RANGE COLUMNS({quote(column)})"
    )
    parts.append("PARTITION pmax VALUES LESS THAN (MAXVALUE)")
    body = ",\n  ".join(parts)
    return f"ALTER TABLE {qualified(catalog, table.name)} PARTITION BY {by} (\n  {body}\n)"
