"""Index strategies side by side on the decision-support workload (TPC-H-like), real MariaDB.

Eight tables, 1,000,000 line items (1.45 M rows in all), primary keys only.
The workload (22 analytical queries with multi-way joins, ranges, LIKE
prefixes and suffixes, subqueries and a CTE, plus six OLTP point lookups x 10)
runs once into the slow log; each strategy builds its indexes from it: the
seed's naive one-index-per-clause list, a Dexter-style greedy baseline
(:mod:`perfcore.dbopt.greedy`) and the advisor (``advise --apply
--measure-latency``).  Then every state, no index included, is timed
interleaved over ``PASSES`` rounds (:mod:`dbopt_compare`): per statement
shape the median counts, and the time target is the median of the per-round
advisor / greedy ratios (its spread is printed).

Targets: the advisor's workload time <= the greedy baseline's, with at most
half its indexes, and no statement shape >= 1.25x slower than with no index.

Run: ``.venv/bin/pytest benchmarks/test_dbopt_dss_bench.py -s`` (about 15 minutes on 2 cores);
``PERFCORE_DSS_LINEITEMS`` changes the size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from dbopt_compare import compare, paired_ratio, ratio_line, shapes_table, slower, table
from sqlalchemy.engine import make_url

from perfcore.config import DbOptConfig
from perfcore.dbopt.dss_data import DssScale, seed
from perfcore.dbopt.dss_workload import run, statements

pytestmark = [pytest.mark.mariadb, pytest.mark.slow, pytest.mark.timeout(3600)]

SCALE = DssScale(int(os.environ.get("PERFCORE_DSS_LINEITEMS", "1000000")))
PASSES = 5
DATABASE = "dbopt_dss_bench"


@pytest.fixture(scope="module")
def dss_dsn(mariadb_dsn: str) -> Iterator[str]:
    engine = sa.create_engine(mariadb_dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{DATABASE}`")
        connection.exec_driver_sql(f"CREATE DATABASE `{DATABASE}`")
    yield make_url(mariadb_dsn).set(database=DATABASE).render_as_string(hide_password=False)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    engine.dispose()


def test_advisor_vs_greedy_on_the_decision_support_workload(
    dss_dsn: str, report_ratio: object
) -> None:
    started = time.perf_counter()
    counts = seed(dss_dsn, SCALE)
    load_s = time.perf_counter() - started
    work = statements(SCALE, rounds=1)
    run(dss_dsn, work, log_all=True)  # warm-up, and the slow log every strategy reads
    config = DbOptConfig()
    results = compare(dss_dsn, lambda: run(dss_dsn, work).per_shape_s, config, PASSES)
    none, _naive, greedy, advisor = results
    print(
        f"\n[dbopt-dss] {sum(counts.values())} rows ({SCALE.lineitem} line items) loaded in"
        f" {load_s:.1f} s; {len(work)} statements per pass, {PASSES} interleaved rounds,"
        " median per shape\n"
        + table(results, config.max_slowdown)
        + "\n"
        + shapes_table(results)
        + f"\n[dbopt-dss] {ratio_line(advisor, greedy)}"
        + f"\n[dbopt-dss] advisor indexes: {', '.join(advisor.indexes)}"
        + f"\n[dbopt-dss] greedy indexes:  {', '.join(greedy.indexes)}"
    )
    assert advisor.report is not None
    for rejected in advisor.report["rejected"]:
        print(f"[dbopt-dss] rejected ({', '.join(rejected['columns'])}) on {rejected['table']}:"
              f" {rejected['reason'][:140]}")  # fmt: skip
    for query in advisor.report["queries"]:
        if query["latency_before_ms"] is not None:
            print(f"[dbopt-dss] advisor measured {query['latency_before_ms']:9.2f} ->"
                  f" {query['latency_after_ms']:9.2f} ms: {query['fingerprint'][:90]}")  # fmt: skip
    regressed = slower(none.per_shape_s, advisor.per_shape_s, config.max_slowdown)
    for shape in regressed:
        print(f"[dbopt-dss] slower with the advisor: {shape}"
              f" {none.per_shape_s[shape]:.4f} s -> {advisor.per_shape_s[shape]:.4f} s")  # fmt: skip
    record = report_ratio
    assert callable(record)
    ratio, low, high = paired_ratio(advisor, greedy)
    record("dss_advisor_vs_greedy_time", ratio, 1.0,
           detail=f"rounds {low:.3f}-{high:.3f}; advisor {advisor.total_s:.3f}s greedy"
           f" {greedy.total_s:.3f}s none {none.total_s:.3f}s")  # fmt: skip
    record("dss_advisor_vs_greedy_indexes", len(advisor.indexes) / max(len(greedy.indexes), 1), 0.5,
           detail=f"advisor {len(advisor.indexes)} ({advisor.size_bytes / 2**20:.1f} MB),"
           f" greedy {len(greedy.indexes)} ({greedy.size_bytes / 2**20:.1f} MB)")  # fmt: skip
    record("dss_advisor_slower_statements", float(len(regressed)), 0.0, detail=", ".join(regressed))
    assert len(advisor.indexes) <= config.top
