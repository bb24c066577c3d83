"""Every statement shape an application logs is analysed or skipped with a reason; nothing from the log runs.

The workload is logged for real in ``mysql.slow_log`` (LIKE 'PROMO%', a '%s'
literal, a CTE, UNION, a derived table, a window function, a rowid-filter
plan, a schema-qualified stored function) and through a slow-log file
(a sleeping stored function, an unknown column, a collation mix, 3,000
nested parentheses, a digest with ``?``, invalid UTF-8).  The general log
witnesses what the advisor's connection sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from perfcore.config import DbOptConfig
from perfcore.dbopt.advisor import AdviseOptions, advise
from perfcore.dbopt.collect import NOT_ANALYSED
from perfcore.dbopt.planner import PlanError, explain
from perfcore.dbopt.session import Session, connect
from perfcore.errors import ServiceUnavailable
from perfcore.stack import free_port

Admin = Callable[[str], Any]  # the conftest's admin fixture
pytestmark = [pytest.mark.mariadb]

ROWS = 30_000
LOGGED = [
    "SELECT id FROM items WHERE code LIKE 'PROMO1%' AND a = 3",
    "SELECT id FROM items WHERE code = '%s' AND b = 7",
    "WITH recent AS (SELECT id, a FROM items WHERE b BETWEEN 100 AND 200)"
    " SELECT a, COUNT(*) FROM recent GROUP BY a",
    "SELECT id FROM items WHERE a = 1 UNION SELECT id FROM items WHERE b = 2",
    "SELECT x.a, x.n FROM (SELECT a, COUNT(*) AS n FROM items WHERE b < 50 GROUP BY a) AS x"
    " WHERE x.n > 1",
    "SELECT id, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) FROM items WHERE b BETWEEN 5 AND 9",
    "SELECT * FROM items WHERE a IN (1, 2, 3) AND b BETWEEN 10 AND 800",  # rowid filter
]


@pytest.fixture(scope="module")
def shop(private_dsn: str, admin: Admin) -> Iterator[str]:
    conn = admin(private_dsn)
    database = sa.engine.make_url(private_dsn).database
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE items (id INT PRIMARY KEY, a INT NOT NULL, b INT NOT NULL,"
            " code VARCHAR(20) NOT NULL, pad CHAR(200) NOT NULL, KEY ka (a), KEY kb (b))"
            " DEFAULT CHARSET=utf8mb4"
        )
        cur.execute(
            "INSERT INTO items SELECT seq, seq % 100, FLOOR(seq / 10), CONCAT('PROMO', seq),"
            f" 'x' FROM seq_1_to_{ROWS}"
        )
        cur.execute("ANALYZE TABLE items")
        # A stored function shadowing a built-in's name; it leaves a mark when it runs.
        cur.execute(
            "CREATE FUNCTION `lower`(n INT) RETURNS INT DETERMINISTIC"
            " BEGIN SET @ran = COALESCE(@ran, 0) + 1; RETURN n; END"
        )
        cur.execute(
            "CREATE FUNCTION slow_sleep() RETURNS INT DETERMINISTIC BEGIN DO SLEEP(30); RETURN 1; END"
        )
        cur.execute("SET SESSION long_query_time = 0")
        for sql in [*LOGGED, f"SELECT id FROM items WHERE id = {database}.lower(3)"]:
            cur.execute(sql)  # no arguments: PyMySQL sends the text as it is
            cur.fetchall()
    conn.close()
    yield private_dsn


def slow_log_file(path: Path) -> Path:
    entries = [
        b"SELECT id FROM items WHERE a = slow_sleep()",
        b"SELECT id FROM items WHERE nosuch = 1 AND a = 4",
        b"SELECT id FROM items WHERE b = 3 AND code COLLATE utf8mb4_bin = 'x' COLLATE utf8mb4_unicode_ci",
        b"SELECT id FROM items WHERE " + b"(" * 3000 + b"a = 1" + b")" * 3000,
        b"SELECT id FROM items WHERE a = ? AND b = ?",
        b"SELECT id FROM items WHERE code = 'caf\xc3\xa9 \xff\xfe' AND a = 2 AND b = 11",
        *NOT_SELECTS,
    ]
    header = b"# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 30000\n"
    unreadable = b"# Query_time: 1.2.3  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 1\n"
    path.write_bytes(
        b"".join(header + e + b";\n" for e in entries)
        + unreadable
        + b"SELECT id FROM items WHERE pad = 'unreadable header';\n"
    )
    return path


# Listed per shape as not analysed (and never sent): two INSERTs of one shape, a SET, a LOAD.
NOT_SELECTS = [
    b"INSERT INTO items VALUES (40001, 1, 2, 'x', 'y')",
    b"INSERT INTO items VALUES (40002, 3, 4, 'z', 'w')",
    b"SET NAMES utf8mb4",
    b"LOAD DATA INFILE '/nonexistent/items.csv' INTO TABLE items",
]


def test_every_shape_is_analysed_or_skipped_and_nothing_from_the_log_runs(
    shop: str, tmp_path: Path, admin: Admin
) -> None:
    witness = admin(shop)
    engine = connect(shop)
    config = DbOptConfig(statement_timeout_s=2.0, min_table_rows=0)
    try:
        with engine.connect() as connection, witness.cursor() as cur:
            session = Session(connection)
            thread_id = session.scalar("SELECT CONNECTION_ID()")
            cur.execute("SET GLOBAL general_log = 1")
            started = time.perf_counter()
            try:
                options = AdviseOptions(shop, slow_log_file=slow_log_file(tmp_path / "slow.log"))
                report = advise(options, config, session).to_json()
            finally:
                elapsed = time.perf_counter() - started
                cur.execute("SET GLOBAL general_log = 0")
            ran = session.scalar("SELECT @ran")
            cur.execute(
                "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log"
                " WHERE thread_id = %s AND command_type = 'Query'",
                (thread_id,),
            )
            sent = [str(row[0]) for row in cur.fetchall()]
    finally:
        engine.dispose()
        witness.close()

    assert elapsed < 25, "the sleeping function never ran (it sleeps 30 s)"
    assert ran is None, "the stored function `lower` never ran in the advisor's session"
    assert not [s for s in sent if "lower(" in s.lower()], "it never reached the server"
    assert not [s for s in sent if "slow_sleep" in s]
    shapes = {q["fingerprint"]: q["skipped"] for q in report["queries"]}
    # Logged, the qualified function, six odd file entries and one unreadable header; the
    # non-SELECT shapes (the file's and the fixture's own writes, e.g. its CREATE FUNCTION)
    # are listed besides, each as not analysed.
    selects = [fp for fp, skip in shapes.items() if skip != NOT_ANALYSED]
    assert len(selects) == len(LOGGED) + 1 + 6 + 1, shapes
    assert all(not fp.startswith(("select", "with")) for fp in set(shapes) - set(selects))

    def reason(fragment: str) -> str | None:
        (found,) = [skip for fp, skip in shapes.items() if fragment in fp]
        return found

    # Analysed: the '%' and '%s' literals, the CTE, UNION, derived table, window, rowid filter.
    for fragment in ("like ?", "code = ? and b = ?", "with recent", "union", "as x", "row_number",
                     "a in (?+) and b between"):  # fmt: skip
        assert reason(fragment) is None, (fragment, shapes)
    assert any("LIKE 'PROMO1%'" in s for s in sent)
    assert any("code = '%s'" in s for s in sent)
    assert any(s.split("*/", 1)[-1].strip().startswith("EXPLAIN WITH recent") for s in sent)
    # Skipped, each with its own reason; the rest were still advised.
    assert "calls function" in str(reason(".lower(")) and "allow-list" in str(reason(".lower("))
    assert "calls function slow_sleep" in str(reason("slow_sleep"))
    assert "1054" in str(reason("nosuch")), shapes
    assert re.search(r"cannot plan it: 12(53|67): .*COLLATION", str(reason("b = ? and code")), re.I)
    assert "nested 3000 levels" in str(reason("((((("))
    assert "placeholders" in str(shapes["select id from items where a = ? and b = ?"])
    assert reason("code = ? and a = ? and b = ?") is None  # invalid UTF-8, replaced, planned
    counts = {q["fingerprint"]: q["count"] for q in report["queries"]}
    for fragment, count in (
        ("insert into items values", 2),
        ("set names", 1),
        ("load data infile", 1),
    ):
        assert reason(fragment) == NOT_ANALYSED, (fragment, shapes)
        (found,) = [n for fp, n in counts.items() if fragment in fp]
        assert found == count, (fragment, counts)
    assert reason("set session long_query_time") == NOT_ANALYSED
    assert not [s for s in sent if "INSERT INTO items" in s or "LOAD DATA" in s]
    assert reason("pad = ?") == "Query_time '1.2.3' is not a number"
    assert report["suggestions"], "the analysable statements still got advice"
    # The suite connects as root: the report says so.
    assert any("superuser" in w for w in report["warnings"]), report["warnings"]


def test_explain_stops_at_the_time_limit(shop: str) -> None:
    engine = connect(shop)
    try:
        with engine.connect() as connection:
            session = Session(connection, time_limit_s=1.0)
            started = time.perf_counter()
            # Bypasses the allow-list on purpose: the limit is the second line of defence.
            with pytest.raises(PlanError, match=r"1969|max_statement_time|interrupted"):
                explain(session, "SELECT id FROM items WHERE id = slow_sleep()")
            assert time.perf_counter() - started < 10
            # The session is usable afterwards and its limit lifted.
            assert session.scalar("SELECT @@max_statement_time") == 0
    finally:
        engine.dispose()


def test_an_unreachable_server_is_one_clear_error() -> None:
    dsn = f"mysql+pymysql://root@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(ServiceUnavailable, match="cannot reach the server"):
        advise(AdviseOptions(dsn), DbOptConfig())
