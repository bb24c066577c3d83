"""The decision-support workload: 22 TPC-H-like analytical queries plus OLTP point lookups.

The analytical shapes keep what makes TPC-H hard for an index advisor:
multi-way joins, date ranges, ``LIKE 'PROMO%'`` prefixes and ``'%BRASS'``
suffixes, correlated and uncorrelated subqueries, ``IN``/``NOT IN``, a CTE
(Q15), a derived table (Q13), ``EXISTS`` (Q4, Q21) -- sized so that every one
finishes in seconds without secondary indexes at a million line items.  The
point lookups (an order's lines, a customer's recent orders, a clerk's day,
a phone number, a part by name prefix) run ``LOOKUP_REPEATS`` times per
round, as an application would.  Statements are rendered from a seeded
generator, so two runs send the same text, and go to the server byte for byte
(no client-side %-formatting).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from perfcore.dbopt.dss_data import NATIONS, REGIONS, SEGMENTS, SHIPMODES, DssScale

Render = Callable[[random.Random, dict[str, int]], str]
LOOKUP_REPEATS = 10


def _year(r: random.Random) -> int:
    return r.randint(1993, 1997)


def _day(r: random.Random) -> str:
    return f"{_year(r)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def _within(r: random.Random, column: str, first: str, last: str, *, between: bool = False) -> str:
    """``column`` in one randomly drawn year's ``first``..``last`` (MM-DD).

    One draw for both ends: two draws would make some ranges span years and
    others empty, and the planner answers an empty range without any index.
    """
    year = _year(r)
    if between:
        return f"{column} BETWEEN '{year}-{first}' AND '{year}-{last}'"
    return f"{column} >= '{year}-{first}' AND {column} < '{year}-{last}'"


def _nation(r: random.Random) -> str:
    return r.choice(NATIONS)


ANALYTICAL: dict[str, Render] = {
    "q01 pricing summary": lambda r, c: (
        "SELECT l_returnflag, l_linestatus, SUM(l_quantity), SUM(l_extendedprice * (1 - l_discount)),"
        " AVG(l_discount), COUNT(*) FROM lineitem"
        f" WHERE l_shipdate <= DATE_SUB('1998-12-01', INTERVAL {r.randint(60, 120)} DAY)"
        " GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus"),
    "q02 minimum cost supplier": lambda r, c: (
        "SELECT s.s_acctbal, s.s_name, n.n_name, p.p_partkey FROM part p"
        " JOIN partsupp ps ON ps.ps_partkey = p.p_partkey JOIN supplier s ON s.s_suppkey = ps.ps_suppkey"
        " JOIN nation n ON n.n_nationkey = s.s_nationkey JOIN region rg ON rg.r_regionkey = n.n_regionkey"
        f" WHERE p.p_size = {r.randint(1, 50)} AND p.p_type LIKE '%BRASS' AND rg.r_name = '{r.choice(REGIONS)}'"
        " AND ps.ps_supplycost = (SELECT MIN(ps2.ps_supplycost) FROM partsupp ps2"
        " WHERE ps2.ps_partkey = p.p_partkey) ORDER BY s.s_acctbal DESC LIMIT 100"),
    "q03 shipping priority": lambda r, c: (
        "SELECT l.l_orderkey, SUM(l.l_extendedprice * (1 - l.l_discount)) AS revenue, o.o_orderdate"
        " FROM customer c JOIN orders o ON o.o_custkey = c.c_custkey"
        " JOIN lineitem l ON l.l_orderkey = o.o_orderkey"
        f" WHERE c.c_mktsegment = '{r.choice(SEGMENTS)}' AND o.o_orderdate < '1995-03-15'"
        " AND o.o_orderdate >= '1995-02-01' AND l.l_shipdate > '1995-03-15'"
        " GROUP BY l.l_orderkey, o.o_orderdate ORDER BY revenue DESC LIMIT 10"),
    "q04 order priority": lambda r, c: (
        "SELECT o_orderpriority, COUNT(*) FROM orders o"
        f" WHERE {_within(r, 'o.o_orderdate', '07-01', '10-01')}"
        " AND EXISTS (SELECT 1 FROM lineitem l WHERE l.l_orderkey = o.o_orderkey"
        " AND l.l_commitdate < l.l_receiptdate) GROUP BY o_orderpriority ORDER BY o_orderpriority"),
    "q05 local supplier volume": lambda r, c: (
        "SELECT n.n_name, SUM(l.l_extendedprice * (1 - l.l_discount)) AS revenue FROM orders o"
        " JOIN customer c ON c.c_custkey = o.o_custkey JOIN lineitem l ON l.l_orderkey = o.o_orderkey"
        " JOIN supplier s ON s.s_suppkey = l.l_suppkey AND s.s_nationkey = c.c_nationkey"
        " JOIN nation n ON n.n_nationkey = s.s_nationkey JOIN region rg ON rg.r_regionkey = n.n_regionkey"
        f" WHERE rg.r_name = '{r.choice(REGIONS)}' AND o.o_orderdate >= '1994-01-01'"
        " AND o.o_orderdate < '1994-04-01' GROUP BY n.n_name ORDER BY revenue DESC"),
    "q06 forecast revenue": lambda r, c: (
        "SELECT SUM(l_extendedprice * l_discount) FROM lineitem"
        f" WHERE {_within(r, 'l_shipdate', '01-01', '03-01')}"
        " AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"),
    "q07 volume shipping": lambda r, c: (
        "SELECT n1.n_name, n2.n_name, YEAR(l.l_shipdate), SUM(l.l_extendedprice) FROM lineitem l"
        " JOIN supplier s ON s.s_suppkey = l.l_suppkey JOIN orders o ON o.o_orderkey = l.l_orderkey"
        " JOIN customer c ON c.c_custkey = o.o_custkey JOIN nation n1 ON n1.n_nationkey = s.s_nationkey"
        " JOIN nation n2 ON n2.n_nationkey = c.c_nationkey"
        f" WHERE n1.n_name = '{_nation(r)}' AND n2.n_name = '{_nation(r)}'"
        " AND l.l_shipdate BETWEEN '1995-01-01' AND '1995-03-31' GROUP BY 1, 2, 3"),
    "q08 market share": lambda r, c: (
        "SELECT YEAR(o.o_orderdate), SUM(CASE WHEN n.n_name = 'BRAZIL' THEN l.l_extendedprice ELSE 0 END)"
        " / SUM(l.l_extendedprice) FROM part p JOIN lineitem l ON l.l_partkey = p.p_partkey"
        " JOIN orders o ON o.o_orderkey = l.l_orderkey JOIN supplier s ON s.s_suppkey = l.l_suppkey"
        " JOIN nation n ON n.n_nationkey = s.s_nationkey"
        f" WHERE p.p_type = 'ECONOMY ANODIZED STEEL' AND p.p_size = {r.randint(1, 50)}"
        " AND o.o_orderdate BETWEEN '1995-01-01' AND '1996-12-31' GROUP BY 1"),
    "q09 product profit": lambda r, c: (
        "SELECT n.n_name, YEAR(o.o_orderdate), SUM(l.l_extendedprice * (1 - l.l_discount)"
        " - ps.ps_supplycost * l.l_quantity) FROM part p JOIN lineitem l ON l.l_partkey = p.p_partkey"
        " JOIN partsupp ps ON ps.ps_partkey = l.l_partkey AND ps.ps_suppkey = l.l_suppkey"
        " JOIN orders o ON o.o_orderkey = l.l_orderkey JOIN supplier s ON s.s_suppkey = l.l_suppkey"
        f" JOIN nation n ON n.n_nationkey = s.s_nationkey WHERE p.p_name LIKE 'forest {r.choice(['tan', 'plum'])}%'"
        " GROUP BY 1, 2"),
    "q10 returned items": lambda r, c: (
        "SELECT c.c_custkey, c.c_name, SUM(l.l_extendedprice * (1 - l.l_discount)) AS revenue"
        " FROM customer c JOIN orders o ON o.o_custkey = c.c_custkey"
        " JOIN lineitem l ON l.l_orderkey = o.o_orderkey"
        f" WHERE {_within(r, 'o.o_orderdate', '10-01', '11-01')}"
        " AND l.l_returnflag = 'R' GROUP BY c.c_custkey, c.c_name ORDER BY revenue DESC LIMIT 20"),
    "q11 important stock": lambda r, c: (
        "SELECT ps.ps_partkey, SUM(ps.ps_supplycost * ps.ps_availqty) AS value FROM partsupp ps"
        " JOIN supplier s ON s.s_suppkey = ps.ps_suppkey"
        f" WHERE s.s_nationkey = {r.randint(0, 24)} GROUP BY ps.ps_partkey ORDER BY value DESC LIMIT 50"),
    "q12 shipping modes": lambda r, c: (
        "SELECT l.l_shipmode, SUM(CASE WHEN o.o_orderpriority IN ('1-URGENT', '2-HIGH') THEN 1 ELSE 0 END)"
        " FROM orders o JOIN lineitem l ON l.l_orderkey = o.o_orderkey"
        f" WHERE l.l_shipmode IN ('{r.choice(SHIPMODES)}', 'SHIP') AND l.l_commitdate < l.l_receiptdate"
        f" AND {_within(r, 'l.l_receiptdate', '01-01', '02-01')}"
        " GROUP BY l.l_shipmode"),
    "q13 customer distribution": lambda r, c: (
        "SELECT x.n, COUNT(*) FROM (SELECT c.c_custkey, COUNT(o.o_orderkey) AS n FROM customer c"
        " LEFT JOIN orders o ON o.o_custkey = c.c_custkey AND o.o_clerk NOT LIKE 'Clerk#0000001%'"
        f" WHERE c.c_nationkey = {r.randint(0, 24)} AND c.c_mktsegment = '{r.choice(SEGMENTS)}'"
        " GROUP BY c.c_custkey) AS x GROUP BY x.n ORDER BY 2 DESC"),
    "q14 promotion effect": lambda r, c: (
        "SELECT 100 * SUM(CASE WHEN p.p_type LIKE 'PROMO%' THEN l.l_extendedprice ELSE 0 END)"
        " / SUM(l.l_extendedprice) FROM lineitem l JOIN part p ON p.p_partkey = l.l_partkey"
        f" WHERE {_within(r, 'l.l_shipdate', '09-01', '10-01')}"),
    "q15 top supplier (CTE)": lambda r, c: (
        "WITH revenue AS (SELECT l_suppkey AS supplier_no, SUM(l_extendedprice * (1 - l_discount)) AS total"
        f" FROM lineitem WHERE {_within(r, 'l_shipdate', '01-01', '02-15')}"
        " GROUP BY l_suppkey) SELECT s.s_suppkey, s.s_name, rv.total FROM supplier s"
        " JOIN revenue rv ON rv.supplier_no = s.s_suppkey"
        " WHERE rv.total = (SELECT MAX(total) FROM revenue)"),
    "q16 parts/supplier relationship": lambda r, c: (
        "SELECT p.p_brand, p.p_type, p.p_size, COUNT(DISTINCT ps.ps_suppkey) FROM partsupp ps"
        " JOIN part p ON p.p_partkey = ps.ps_partkey WHERE p.p_brand <> 'Brand#45'"
        " AND p.p_type NOT LIKE 'MEDIUM POLISHED%' AND p.p_size IN (49, 14, 23, 45)"
        " AND ps.ps_suppkey NOT IN (SELECT s_suppkey FROM supplier WHERE s_acctbal < -990)"
        " GROUP BY p.p_brand, p.p_type, p.p_size ORDER BY 4 DESC LIMIT 20"),
    "q17 small-quantity revenue": lambda r, c: (
        "SELECT SUM(l.l_extendedprice) / 7.0 FROM lineitem l JOIN part p ON p.p_partkey = l.l_partkey"
        f" WHERE p.p_brand = 'Brand#{r.randint(11, 55)}' AND p.p_container = 'MED BOX'"
        f" AND p.p_size = {r.randint(1, 50)} AND l.l_quantity < (SELECT 0.2 * AVG(l2.l_quantity)"
        " FROM lineitem l2 WHERE l2.l_partkey = p.p_partkey)"),
    "q18 large volume customer": lambda r, c: (
        "SELECT c.c_name, o.o_orderkey, o.o_totalprice FROM customer c"
        " JOIN orders o ON o.o_custkey = c.c_custkey WHERE o.o_orderkey IN"
        f" (SELECT l_orderkey FROM lineitem WHERE {_within(r, 'l_shipdate', '05-01', '05-20', between=True)}"
        " GROUP BY l_orderkey HAVING SUM(l_quantity) > 150) ORDER BY o.o_totalprice DESC LIMIT 100"),
    "q19 discounted revenue": lambda r, c: (
        "SELECT SUM(l.l_extendedprice * (1 - l.l_discount)) FROM lineitem l"
        " JOIN part p ON p.p_partkey = l.l_partkey WHERE l.l_shipmode IN ('AIR', 'REG AIR')"
        " AND l.l_shipinstruct = 'DELIVER IN PERSON' AND l.l_shipdate BETWEEN '1996-01-01' AND '1996-02-28'"
        f" AND ((p.p_brand = 'Brand#{r.randint(11, 55)}' AND l.l_quantity BETWEEN 1 AND 11)"
        " OR (p.p_container LIKE 'LG%' AND l.l_quantity BETWEEN 20 AND 30))"),
    "q20 potential promotion": lambda r, c: (
        "SELECT s.s_name FROM supplier s WHERE s.s_suppkey IN (SELECT ps.ps_suppkey FROM partsupp ps"
        " WHERE ps.ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE 'forest%')"
        f" AND ps.ps_availqty > 9000) AND s.s_nationkey = {r.randint(0, 24)} ORDER BY s.s_name"),
    "q21 suppliers who kept orders waiting": lambda r, c: (
        "SELECT s.s_name, COUNT(*) FROM lineitem l1 JOIN supplier s ON s.s_suppkey = l1.l_suppkey"
        " JOIN orders o ON o.o_orderkey = l1.l_orderkey WHERE o.o_orderstatus = 'F'"
        f" AND l1.l_receiptdate > l1.l_commitdate AND {_within(r, 'l1.l_shipdate', '03-01', '03-10', between=True)}"
        " AND EXISTS (SELECT 1 FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey"
        " AND l2.l_suppkey <> l1.l_suppkey) GROUP BY s.s_name ORDER BY 2 DESC LIMIT 100"),
    "q22 global sales opportunity": lambda r, c: (
        "SELECT SUBSTRING(c_phone, 1, 2) AS code, COUNT(*), SUM(c_acctbal) FROM customer"
        " WHERE SUBSTRING(c_phone, 1, 2) IN ('13', '31', '23', '29', '30', '18', '17')"
        " AND c_acctbal > 9000 AND c_custkey NOT IN (SELECT o_custkey FROM orders"
        f" WHERE o_orderdate >= '{_year(r)}-01-01') GROUP BY code ORDER BY code"),
}  # fmt: skip

LOOKUPS: dict[str, Render] = {
    "lookup order lines": lambda r, c: (
        "SELECT l_linenumber, l_partkey, l_quantity, l_shipdate FROM lineitem"
        f" WHERE l_orderkey = {r.randint(1, c['orders'])}"),
    "lookup customer orders": lambda r, c: (
        "SELECT o_orderkey, o_orderdate, o_totalprice FROM orders"
        f" WHERE o_custkey = {r.randint(1, c['customer'])} ORDER BY o_orderdate DESC LIMIT 10"),
    "lookup clerk day": lambda r, c: (
        f"SELECT o_orderkey, o_totalprice FROM orders WHERE o_clerk = 'Clerk#{r.randint(1, max(1, c['orders'] // 1500 - 1)):09d}'"
        f" AND o_orderdate = '{_day(r)}'"),
    "lookup part lines": lambda r, c: (
        "SELECT l_orderkey, l_quantity FROM lineitem"
        f" WHERE l_partkey = {r.randint(1, c['part'])} AND l_shipdate >= '1997-01-01'"),
    "lookup part by name": lambda r, c: (
        f"SELECT p_partkey, p_name, p_retailprice FROM part WHERE p_name LIKE '{r.choice(['navy', 'rose', 'tan'])} lace%'"
        " ORDER BY p_name LIMIT 20"),
    "lookup customer phone": lambda r, c: (
        f"SELECT c_custkey, c_name FROM customer WHERE c_phone = '{r.randint(10, 34)}-{r.randint(100, 998)}'"),
}  # fmt: skip


def statements(scale: DssScale, rounds: int = 1, seed: int = 3) -> list[tuple[str, str]]:
    """``(shape, SQL)``: per round every analytical query once and every lookup ``LOOKUP_REPEATS`` times."""
    rng = random.Random(seed)
    counts = scale.counts
    work = []
    for _ in range(rounds):
        work += [(name, render(rng, counts)) for name, render in ANALYTICAL.items()]
        for _ in range(LOOKUP_REPEATS):
            work += [(name, render(rng, counts)) for name, render in LOOKUPS.items()]
    return work


@dataclass(frozen=True)
class DssResult:
    total_s: float
    per_shape_s: dict[str, float]
    statements: int


def run(
    dsn: str, work: list[tuple[str, str]], *, log_all: bool = False, timeout_s: float = 120.0
) -> DssResult:
    """Execute ``work`` (results fetched, like an application); ``log_all`` logs every statement."""
    engine = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    per_shape: dict[str, float] = {}
    try:
        with engine.connect() as connection:
            raw = connection.execution_options(no_parameters=True)
            raw.exec_driver_sql(f"SET SESSION max_statement_time = {timeout_s:.0f}")
            # Timing passes stay out of the slow log, so every strategy reads the same log.
            raw.exec_driver_sql(f"SET SESSION long_query_time = {0 if log_all else 31536000}")
            for name, sql in work:
                started = time.perf_counter()
                result = raw.exec_driver_sql(sql)
                if result.returns_rows:
                    result.fetchall()
                per_shape[name] = per_shape.get(name, 0.0) + time.perf_counter() - started
    finally:
        engine.dispose()
    return DssResult(sum(per_shape.values()), per_shape, len(work))
