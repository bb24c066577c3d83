"""Side-by-side index strategies on one database: none, naive, greedy, the advisor.

Each strategy starts from the same database (only the indexes it had at the
start), builds its indexes, and the same workload is timed (per statement
shape, the best of ``passes`` runs).  The table printed at the end has the
index count and size (InnoDB's own page counts), the workload time, its
ratio to no index, and how many statement shapes got slower by
``max_slowdown`` or more than with no index at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from perfcore.config import DbOptConfig
from perfcore.dbopt import apply
from perfcore.dbopt.advisor import AdviseOptions, advise, observe
from perfcore.dbopt.candidates import naive
from perfcore.dbopt.greedy import greedy
from perfcore.dbopt.planner import detect_flavour
from perfcore.dbopt.session import Session, connect

Timing = Callable[[], dict[str, float]]  # one workload pass: seconds per statement shape


@dataclass
class StateResult:
    name: str
    indexes: list[str] = field(default_factory=list)
    size_bytes: int = 0
    per_shape_s: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] | None = None  # the advisor's, for the reasons behind its choice

    @property
    def total_s(self) -> float:
        return sum(self.per_shape_s.values())


def secondary_indexes(dsn: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(dsn)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT DISTINCT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'"
        ).fetchall()
    engine.dispose()
    return {(str(t), str(i)) for t, i in rows}


def drop_indexes(dsn: str, indexes: set[tuple[str, str]]) -> None:
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for table, index in sorted(indexes):
            connection.exec_driver_sql(f"DROP INDEX `{index}` ON `{table}`")
    engine.dispose()


def index_bytes(dsn: str, indexes: set[tuple[str, str]]) -> int:
    """Bytes the indexes occupy, from InnoDB's persistent statistics (refreshed first)."""
    if not indexes:
        return 0
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    total = 0
    with engine.connect() as connection:
        tables = sorted({t for t, _ in indexes})
        connection.exec_driver_sql("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in tables))
        page = int(connection.exec_driver_sql("SELECT @@innodb_page_size").scalar() or 16384)
        for table, index in indexes:
            pages = connection.exec_driver_sql(
                "SELECT stat_value FROM mysql.innodb_index_stats WHERE database_name = DATABASE()"
                f" AND table_name = '{table}' AND index_name = '{index}' AND stat_name = 'size'"
            ).scalar()
            total += int(pages or 0) * page
    engine.dispose()
    return total


def timed(timing: Timing, passes: int) -> dict[str, float]:
    """Per shape, the best of ``passes`` runs (the least disturbed by other load)."""
    runs = [timing() for _ in range(passes)]
    return {shape: min(run[shape] for run in runs) for shape in runs[0]}


def slower(
    base: dict[str, float], other: dict[str, float], factor: float, floor_s: float = 0.002
) -> list[str]:
    """Shapes at least ``factor`` times slower than ``base`` (and by more than timer noise)."""
    return [
        s for s, t in other.items() if t >= base[s] * factor and t - base.get(s, 0.0) >= floor_s
    ]


def naive_strategy(dsn: str, config: DbOptConfig) -> dict[str, Any] | None:
    """The seed's createIndexes: the first ``top`` of its index list, unverified."""
    engine = connect(dsn)
    with engine.connect() as connection:
        session = Session(connection)
        catalog, analysed, _ = observe(session, AdviseOptions(dsn, use_digest=False), config)
        built: set[str] = set()
        for candidate in naive(analysed, catalog, limit=10**6)[: config.top]:
            if candidate.name not in built:
                session.run(apply.create_index_sql(catalog, candidate, invisible=False))
                built.add(candidate.name)
        apply.analyze_tables(session, catalog, catalog.tables)
    engine.dispose()
    return None


def greedy_strategy(dsn: str, config: DbOptConfig) -> dict[str, Any] | None:
    engine = connect(dsn)
    with engine.connect() as connection:
        session = Session(connection)
        catalog, analysed, _ = observe(session, AdviseOptions(dsn, use_digest=False), config)
        greedy(session, detect_flavour(session), catalog, analysed)
        apply.analyze_tables(session, catalog, catalog.tables)
    engine.dispose()
    return None


def advisor_strategy(dsn: str, config: DbOptConfig) -> dict[str, Any] | None:
    options = AdviseOptions(dsn, apply=True, measure_latency=True, use_digest=False)
    return advise(options, config).to_json()


STRATEGIES: dict[str, Callable[[str, DbOptConfig], dict[str, Any] | None]] = {
    "naive (seed)": naive_strategy,
    "greedy (Dexter-style)": greedy_strategy,
    "advisor": advisor_strategy,
}


def compare(dsn: str, timing: Timing, config: DbOptConfig, passes: int) -> list[StateResult]:
    """No index, then each strategy from the same starting indexes; the last one's are kept."""
    original = secondary_indexes(dsn)
    results = [StateResult("no index", per_shape_s=timed(timing, passes))]
    for number, (name, strategy) in enumerate(STRATEGIES.items()):
        report = strategy(dsn, config)
        added = secondary_indexes(dsn) - original
        result = StateResult(name, sorted(i for _, i in added), index_bytes(dsn, added))
        result.report = report
        result.per_shape_s = timed(timing, passes)
        results.append(result)
        if number < len(STRATEGIES) - 1:
            drop_indexes(dsn, added)
    return results


def table(results: list[StateResult], max_slowdown: float) -> str:
    base = results[0]
    lines = [
        f"{'strategy':24} {'indexes':>7} {'size MB':>8} {'workload s':>10} {'vs none':>8}"
        f" {'slower >=' + format(max_slowdown, 'g') + 'x':>12}"
    ]
    for r in results:
        lines.append(
            f"{r.name:24} {len(r.indexes):7d} {r.size_bytes / 2**20:8.1f} {r.total_s:10.3f}"
            f" {r.total_s / base.total_s:8.3f}"
            f" {len(slower(base.per_shape_s, r.per_shape_s, max_slowdown)):12d}"
        )
    return "\n".join(lines)
