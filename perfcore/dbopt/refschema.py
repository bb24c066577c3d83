"""The advisor's starting point: the platform's reference schema with its keys and nothing else.

The tables are :mod:`perfcore.platform.schema`'s, created without the
service's query indexes, as on a young platform whose queries outgrew its
indexes: the advisor has something to find. Row counts scale from one number,
the size of the largest table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from perfcore.platform.schema import bare_tables_ddl, table_names


@dataclass(frozen=True)
class Scale:
    """Row counts per table, derived from the largest table's size."""

    rows: int = 1_000_000

    def __post_init__(self) -> None:
        if self.rows < 1000:
            raise ValueError("rows: at least 1000")

    @property
    def counts(self) -> dict[str, int]:
        n = self.rows
        return {
            "events": max(100, n // 50),
            "attendees": max(200, n // 5),
            "registrations": n,
            "sessions": max(200, n // 20),
            "check_ins": n // 2,
            "notifications": n // 2,
        }


def create_statements(engine: Engine) -> list[str]:
    """DDL that (re)creates the bare schema in the connection's current database."""
    drops = [f"DROP TABLE IF EXISTS `{name}`" for name in reversed(table_names())]
    return drops + bare_tables_ddl(engine)
