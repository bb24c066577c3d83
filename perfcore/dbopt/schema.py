"""The catalog: tables, columns and indexes read from ``information_schema``.

Every identifier the advisor writes into DDL comes from here: a name is valid
only if the catalog lists it, and it is always backquoted (a backquote inside
a name is doubled).  Names that came from a slow log are looked up, never
pasted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from perfcore.dbopt.session import Session
from perfcore.errors import BadInput

# Types an index cannot hold without a prefix length: never proposed as key parts.
UNINDEXABLE = frozenset(
    {
        "text",
        "tinytext",
        "mediumtext",
        "longtext",
        "blob",
        "tinyblob",
        "mediumblob",
        "longblob",
        "json",
        "geometry",
    }
)
TEMPORAL = frozenset({"date", "datetime", "timestamp"})
_MAX_NAME = 64


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    width: int  # bytes per value, estimated; used to size candidate indexes


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass
class Table:
    name: str
    rows: int
    engine: str
    columns: dict[str, Column] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    has_foreign_keys: bool = False

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive, as MySQL compares column names)."""
        found = self.columns.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((c for c in self.columns.values() if c.name.lower() == lowered), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        index = self.indexes.get("PRIMARY")
        return index.columns if index else ()


@dataclass
class Catalog:
    """The tables of one database."""

    database: str
    tables: dict[str, Table] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        found = self.tables.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((t for t in self.tables.values() if t.name.lower() == lowered), None)

    def columns_of(self) -> dict[str, list[str]]:
        """Table name → column names, the form :mod:`perfcore.dbopt.analyze` resolves against."""
        return {name: list(table.columns) for name, table in self.tables.items()}


def quote(name: str) -> str:
    """A backquoted identifier (``a`b`` → ```a``b```)."""
    if not name or len(name) > _MAX_NAME or "\x00" in name:
        raise BadInput(f"identifier: invalid name {name!r}")
    return "`" + name.replace("`", "``") + "`"


def qualified(catalog: Catalog, table: str) -> str:
    """```db`.`table``` for a table the catalog knows, else :class:`BadInput`."""
    found = catalog.table(table)
    if found is None:
        raise BadInput(f"table: {table!r} is not in {catalog.database}")
    return f"{quote(catalog.database)}.{quote(found.name)}"


def validated_columns(table: Table, columns: Iterable[str]) -> list[str]:
    """The catalog spelling of each column, or :class:`BadInput` for an unknown one."""
    names = []
    for name in columns:
        column = table.column(name)
        if column is None:
            raise BadInput(f"column: {name!r} is not in {table.name}")
        names.append(column.name)
    return names


def index_name(table: str, columns: Iterable[str]) -> str:
    """A deterministic index name, at most 64 characters."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(["idx", table, *columns]))
    if len(base) <= _MAX_NAME:
        return base
    import hashlib

    digest = hashlib.sha1(base.encode()).hexdigest()[:8]
    return f"{base[: _MAX_NAME - 9]}_{digest}"


def _width(data_type: str, char_len: int | None, octets: int | None) -> int:
    fixed = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8, "float": 4,
             "double": 8, "date": 3, "datetime": 8, "timestamp": 4, "time": 3, "year": 1,
             "decimal": 8, "enum": 2, "set": 8, "bit": 8}  # fmt: skip
    if data_type in fixed:
        return fixed[data_type]
    if octets:
        # Variable-length strings average well under their declared maximum.
        return max(4, min(int(octets), 767) // 3)
    return 8 if char_len is None else max(4, int(char_len))


def read_catalog(session: Session, database: str) -> Catalog:
    """Tables, columns and indexes of ``database`` (base tables only)."""
    catalog = Catalog(database)
    for name, rows, engine in session.run(
        "SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(ENGINE, '') FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'",
        [database],
    ):
        catalog.tables[str(name)] = Table(str(name), int(rows), str(engine))
    for table, column, data_type, char_len, octets in session.run(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH"
        " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
        [database],
    ):
        owner = catalog.tables.get(str(table))
        if owner is not None:
            kind = str(data_type).lower()
            owner.columns[str(column)] = Column(str(column), kind, _width(kind, char_len, octets))
    parts: dict[tuple[str, str], list[str]] = {}
    unique: dict[tuple[str, str], bool] = {}
    for table, index, column, non_unique in session.run(
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS"
        " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        [database],
    ):
        key = (str(table), str(index))
        parts.setdefault(key, []).append(str(column))
        unique[key] = not int(non_unique)
    for (table, index), columns in parts.items():
        owner = catalog.tables.get(table)
        if owner is not None:
            owner.indexes[index] = Index(index, tuple(columns), unique[(table, index)])
    for (table,) in session.run(
        "SELECT DISTINCT TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS"
        " WHERE CONSTRAINT_SCHEMA = %s UNION SELECT DISTINCT REFERENCED_TABLE_NAME"
        " FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s",
        [database, database],
    ):
        owner = catalog.tables.get(str(table))
        if owner is not None:
            owner.has_foreign_keys = True
    return catalog
