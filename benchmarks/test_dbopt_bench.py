"""Index advisor benchmark on real MariaDB: the platform's slow workload before and after.

One database with the reference event-platform schema (1,000,000 registrations;
2.27 M rows in all) and only primary keys.  The workload (11 typical slow
statement shapes x 3) runs once to warm the buffer pool and fill the slow log,
then is timed three times in each state:

1. before: primary keys only;
2. advisor: after ``perfcore db advise --apply`` (verified, at most 10 indexes);
3. naive: the advisor's indexes dropped, then the seed's approach: one index
   per WHERE / JOIN / ORDER BY column list of each slow statement, unverified,
   the first 10 by slow time (as the seed applies ``slice(0, 10)``).

Ratios (printed at the end, written to ``reports/benchmarks.json``):
``dbopt_advisor_speedup`` (before / after, target >= 10),
``dbopt_advisor_indexes`` (target <= 10), and
``dbopt_advisor_vs_naive_speedup`` (advisor speed-up / naive speed-up, target >= 1) and
``dbopt_advisor_vs_naive_indexes`` (advisor / naive index count, target <= 1).

Run: ``.venv/bin/pytest benchmarks/test_dbopt_bench.py -s`` (about 2 minutes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from perfcore.config import DbOptConfig
from perfcore.dbopt import apply
from perfcore.dbopt.advisor import AdviseOptions, advise, observe
from perfcore.dbopt.candidates import naive
from perfcore.dbopt.datagen import seed
from perfcore.dbopt.refschema import Scale
from perfcore.dbopt.session import Session, connect
from perfcore.dbopt.workload import run

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

SCALE = Scale(int(os.environ.get("PERFCORE_DBOPT_BENCH_ROWS", "1000000")))
REPEATS = 3
ROUNDS = 3
DATABASE = "dbopt_bench"


@pytest.fixture(scope="module")
def bench_dsn(mariadb_dsn: str) -> Iterator[str]:
    engine = sa.create_engine(mariadb_dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{DATABASE}`")
        connection.exec_driver_sql(f"CREATE DATABASE `{DATABASE}`")
    yield make_url(mariadb_dsn).set(database=DATABASE).render_as_string(hide_password=False)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    engine.dispose()


def timed_workload(dsn: str) -> float:
    """The best of ``ROUNDS`` runs of the same statements (seconds)."""
    return min(run(dsn, SCALE, REPEATS, log_all=False).total_s for _ in range(ROUNDS))


def secondary_indexes(dsn: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(dsn)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT DISTINCT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME NOT IN ('PRIMARY', 'uq_attendees_email')"
        ).fetchall()
    engine.dispose()
    return [(str(t), str(i)) for t, i in rows]


def drop_indexes(dsn: str, indexes: list[tuple[str, str]]) -> None:
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for table, index in indexes:
            connection.exec_driver_sql(f"DROP INDEX `{index}` ON `{table}`")
    engine.dispose()


def apply_naive(dsn: str, config: DbOptConfig) -> int:
    """The seed's createIndexes: every listed index, no verification, duplicates ignored."""
    engine = connect(dsn)
    with engine.connect() as connection:
        session = Session(connection)
        catalog, analysed, _ = observe(session, AdviseOptions(dsn, use_digest=False), config)
        created = set()
        proposed = naive(analysed, catalog, limit=10**6)
        print(
            f"\n[dbopt] the naive approach lists {len(proposed)} indexes; the seed applies the first {config.top}"
        )
        for candidate in proposed[: config.top]:
            if candidate.name not in created:
                session.run(apply.create_index_sql(catalog, candidate, invisible=False))
                created.add(candidate.name)
        apply.analyze_tables(session, catalog, catalog.tables)
    engine.dispose()
    return len(created)


def test_advisor_speedup_vs_naive(bench_dsn: str, report_ratio: object) -> None:
    started = time.perf_counter()
    seed(bench_dsn, SCALE)
    load_s = time.perf_counter() - started
    run(bench_dsn, SCALE, REPEATS, log_all=True)  # warm-up, and the slow log the advisor reads
    before_s = timed_workload(bench_dsn)

    config = DbOptConfig()
    started = time.perf_counter()
    report = advise(AdviseOptions(bench_dsn, apply=True), config).to_json()
    advise_s = time.perf_counter() - started
    advisor_indexes = secondary_indexes(bench_dsn)
    advisor_s = timed_workload(bench_dsn)

    drop_indexes(bench_dsn, advisor_indexes)
    naive_count = apply_naive(bench_dsn, config)
    naive_s = timed_workload(bench_dsn)

    advisor_speedup, naive_speedup = before_s / advisor_s, before_s / naive_s
    print(
        f"\n[dbopt] {SCALE.rows} registrations ({sum(SCALE.counts.values())} rows) loaded in {load_s:.1f} s;"
        f" advise --apply took {advise_s:.1f} s"
        f"\n[dbopt] workload ({REPEATS} x 11 statements, best of {ROUNDS}):"
        f"\n  before (primary keys only): {before_s * 1000:9.1f} ms"
        f"\n  advisor ({len(advisor_indexes):2d} indexes):       {advisor_s * 1000:9.1f} ms"
        f"  speed-up {advisor_speedup:6.1f}x"
        f"\n  naive   ({naive_count:2d} indexes):       {naive_s * 1000:9.1f} ms  speed-up {naive_speedup:6.1f}x"
        f"\n[dbopt] advisor indexes: {', '.join(s['name'] for s in report['suggestions'])}"
    )
    record = report_ratio  # the conftest's recorder
    assert callable(record)
    record("dbopt_advisor_speedup", advisor_speedup, 10.0, better="higher",
           detail=f"before {before_s:.3f}s after {advisor_s:.3f}s")  # fmt: skip
    record("dbopt_advisor_indexes", float(len(advisor_indexes)), 10.0, better="lower")
    record("dbopt_advisor_vs_naive_speedup", advisor_speedup / naive_speedup, 1.0, better="higher",
           detail=f"naive {naive_count} indexes, {naive_s:.3f}s")  # fmt: skip
    record(
        "dbopt_advisor_vs_naive_indexes",
        len(advisor_indexes) / max(naive_count, 1),
        1.0,
        better="lower",
    )
    assert report["indexesCreated"] == len(advisor_indexes) <= config.top
