"""Side-by-side index strategies on one database: none, naive, greedy, the advisor.

Each strategy starts from the same database (only the indexes it had at the
start) and builds its indexes; their definitions and sizes (InnoDB's own page
counts) are recorded and the next strategy starts clean.  Then the union of
every strategy's indexes is built once, and the workload is timed with the
strategies interleaved: in each of ``passes`` rounds every state (no index,
then each strategy, in an order rotated per round) gets a pass with only its
own indexes visible to the planner (MariaDB's ``IGNORED`` indexes, a metadata
change), so a burst of load on a shared machine hits all of them alike.  Per
statement shape the median over the rounds counts; the paired per-round
ratio of two strategies' workload times, with its spread, is what a target
compares.  The table printed at the end has the index count and size, the
workload time, its ratio to no index, and how many statement shapes got
slower by ``max_slowdown`` or more than with no index at all.

The union of every strategy's indexes is about three times what any one state
keeps, so with a buffer pool sized for one state (the local stack's 256 MB)
each pass would pay for the evictions of the passes before it: a statement
whose plan no index changes measured 1.3x slower with the advisor. The
comparison therefore runs with a pool that holds the data and every index
(``POOL_BYTES``), as a production server sized for its working set would, and
restores the server's own size afterwards.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
IndexKey = tuple[str, str]  # (table, index name)
POOL_BYTES = 1 << 30


@contextmanager
def buffer_pool(dsn: str, size_bytes: int, timeout_s: float = 120.0) -> Iterator[None]:
    """The InnoDB buffer pool at ``size_bytes`` (resized online), the server's own size after."""
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")

    def resize(connection: sa.Connection, size: int) -> None:
        connection.exec_driver_sql(f"SET GLOBAL innodb_buffer_pool_size = {int(size)}")
        deadline = time.monotonic() + timeout_s
        while True:  # the resize runs in the background: wait for it, bounded
            status = connection.exec_driver_sql(
                "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'"
            ).fetchall()
            text = str(status[0][1]) if status else ""
            if not text or "Completed" in text:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"buffer pool resize did not finish: {text}")
            time.sleep(0.2)

    with engine.connect() as connection:
        previous = int(connection.exec_driver_sql("SELECT @@innodb_buffer_pool_size").scalar() or 0)
        resize(connection, max(size_bytes, previous))
    try:
        yield
    finally:
        with engine.connect() as connection:
            resize(connection, previous)
        engine.dispose()


@dataclass
class StateResult:
    name: str
    indexes: list[str] = field(default_factory=list)
    size_bytes: int = 0
    per_shape_s: dict[str, float] = field(default_factory=dict)  # median over the rounds
    report: dict[str, Any] | None = None  # the advisor's, for the reasons behind its choice
    runs: list[dict[str, float]] = field(default_factory=list)  # every round's pass
    keys: set[IndexKey] = field(default_factory=set)

    @property
    def total_s(self) -> float:
        return sum(self.per_shape_s.values())

    @property
    def totals(self) -> list[float]:
        return [sum(run.values()) for run in self.runs]


def paired_ratio(ours: StateResult, baseline: StateResult) -> tuple[float, float, float]:
    """Median, lowest and highest of the per-round ratios ours / baseline (same round, same load)."""
    ratios = [a / b for a, b in zip(ours.totals, baseline.totals, strict=True) if b > 0]
    return statistics.median(ratios), min(ratios), max(ratios)


def _key_columns(dsn: str) -> list[tuple[str, str, str]]:
    """``(table, index, column)`` of every secondary index, in key order."""
    engine = sa.create_engine(dsn)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'"
            " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ).fetchall()
    engine.dispose()
    return [(str(t), str(i), str(c)) for t, i, c in rows]


def secondary_indexes(dsn: str) -> set[tuple[str, str]]:
    return {(table, index) for table, index, _ in _key_columns(dsn)}


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


def definitions(dsn: str, indexes: set[IndexKey]) -> dict[IndexKey, tuple[str, ...]]:
    """The columns of each index, in key order (to build it again later)."""
    found: dict[IndexKey, tuple[str, ...]] = {}
    for table, index, column in _key_columns(dsn):
        if (table, index) in indexes:
            found[(table, index)] = (*found.get((table, index), ()), column)
    return found


def build_indexes(dsn: str, wanted: dict[IndexKey, tuple[str, ...]]) -> None:
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for (table, index), columns in sorted(wanted.items()):
            keys = ", ".join(f"`{c}`" for c in columns)
            connection.exec_driver_sql(f"CREATE INDEX `{index}` ON `{table}` ({keys})")
        if wanted:
            tables = sorted({t for t, _ in wanted})
            connection.exec_driver_sql("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in tables))
    engine.dispose()


def show_only(dsn: str, every: set[IndexKey], visible: set[IndexKey]) -> None:
    """Let the planner use exactly ``visible`` of ``every`` (the others stay built, IGNORED)."""
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for table, index in sorted(every):
            state = "NOT IGNORED" if (table, index) in visible else "IGNORED"
            connection.exec_driver_sql(f"ALTER TABLE `{table}` ALTER INDEX `{index}` {state}")
    engine.dispose()


def interleaved(
    results: list[StateResult], every: set[IndexKey], dsn: str, timing: Timing, passes: int
) -> None:
    """``passes`` rounds, each timing every state once (order rotated); medians per shape."""
    for round_number in range(passes):
        shift = round_number % len(results)
        for result in results[shift:] + results[:shift]:
            show_only(dsn, every, result.keys)
            result.runs.append(timing())
    show_only(dsn, every, every)
    for result in results:
        shapes = result.runs[0]
        result.per_shape_s = {s: statistics.median(run[s] for run in result.runs) for s in shapes}


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


Strategy = Callable[[str, DbOptConfig], dict[str, Any] | None]
STRATEGIES: dict[str, Strategy] = {
    "naive (seed)": naive_strategy,
    "greedy (Dexter-style)": greedy_strategy,
    "advisor": advisor_strategy,
}


def capped_advisor(top: int) -> Strategy:
    """The advisor held to ``top`` indexes (e.g. half the greedy baseline's count)."""
    return lambda dsn, config: advisor_strategy(dsn, config.model_copy(update={"top": top}))


def compare(
    dsn: str,
    timing: Timing,
    config: DbOptConfig,
    passes: int,
    strategies: dict[str, Strategy] = STRATEGIES,
) -> list[StateResult]:
    """No index and each strategy from the same starting indexes, then timed interleaved.

    At the end every strategy's indexes are built (and visible); the caller's
    database is dropped afterwards anyway. All of it with a buffer pool of
    ``POOL_BYTES`` (see the module's docstring).
    """
    with buffer_pool(dsn, POOL_BYTES):
        return _compare(dsn, timing, config, passes, strategies)


def _compare(
    dsn: str,
    timing: Timing,
    config: DbOptConfig,
    passes: int,
    strategies: dict[str, Strategy],
) -> list[StateResult]:
    original = secondary_indexes(dsn)
    results = [StateResult("no index")]
    built: dict[IndexKey, tuple[str, ...]] = {}
    for number, (name, strategy) in enumerate(strategies.items()):
        report = strategy(dsn, config)
        added = secondary_indexes(dsn) - original
        result = StateResult(name, sorted(i for _, i in added), index_bytes(dsn, added))
        result.report, result.keys = report, added
        for key, columns in definitions(dsn, added).items():
            if built.setdefault(key, columns) != columns:
                raise AssertionError(f"two strategies built {key} on different columns")
        results.append(result)
        if number < len(strategies) - 1:
            drop_indexes(dsn, added)
    build_indexes(dsn, {k: c for k, c in built.items() if k not in results[-1].keys})
    timing()  # warm the buffer pool with every index before any state is timed
    interleaved(results, set(built), dsn, timing, passes)
    return results


def table(results: list[StateResult], max_slowdown: float) -> str:
    """Per strategy: indexes, size, median workload time (and its spread over the rounds)."""
    base = results[0]
    lines = [
        f"{'strategy':24} {'indexes':>7} {'size MB':>8} {'workload s':>10} {'spread s':>15}"
        f" {'vs none':>8} {'slower >=' + format(max_slowdown, 'g') + 'x':>12}"
    ]
    for r in results:
        spread = f"{min(r.totals):.3f}-{max(r.totals):.3f}"
        lines.append(
            f"{r.name:24} {len(r.indexes):7d} {r.size_bytes / 2**20:8.1f} {r.total_s:10.3f}"
            f" {spread:>15} {paired_ratio(r, base)[0]:8.3f}"
            f" {len(slower(base.per_shape_s, r.per_shape_s, max_slowdown)):12d}"
        )
    return "\n".join(lines)


def ratio_line(ours: StateResult, baseline: StateResult) -> str:
    median, low, high = paired_ratio(ours, baseline)
    return (
        f"{ours.name} / {baseline.name} workload time, per round: median {median:.3f}"
        f" (spread {low:.3f}-{high:.3f} over {len(ours.runs)} rounds)"
    )


def shapes_table(results: list[StateResult]) -> str:
    """Median seconds per statement shape in every state (where a strategy wins or loses)."""
    names = [r.name.split()[0] for r in results]
    names = [  # a second run of one strategy is told apart by its note, e.g. "top 5"
        r.name.split("(")[-1].rstrip(")") if names.count(n) > 1 and "(" in r.name else n
        for n, r in zip(names, results, strict=True)
    ]
    lines = [f"{'shape':40}" + "".join(f" {n:>9}" for n in names)]
    for shape in results[0].per_shape_s:
        cells = "".join(f" {r.per_shape_s[shape]:9.4f}" for r in results)
        lines.append(f"{shape[:40]:40}{cells}")
    return "\n".join(lines)
