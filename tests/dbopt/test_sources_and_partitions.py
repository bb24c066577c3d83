"""Slow-log file parsing, the advisor's own statements filtered, partition DDL and key rules."""

from __future__ import annotations

import datetime as dt

import pytest

from perfcore.dbopt.collect import NOT_ANALYSED, keep, parse_slow_log_file
from perfcore.dbopt.partition import month_starts, partition_ddl
from perfcore.dbopt.schema import Catalog, Column, Index, Table, index_name, quote
from perfcore.dbopt.session import TAG, Session, StatementRefused

SLOW_LOG = """\
/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-log. started with:
Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock
Time                Id Command  Argument
# Time: 261126 12:00:01
# User@Host: app[app] @ localhost []
# Thread_id: 31  Schema: platform  QC_hit: No
# Query_time: 1.500000  Lock_time: 0.000100  Rows_sent: 20  Rows_examined: 1000000
# Rows_affected: 0  Bytes_sent: 1234
use platform;
SET timestamp=1795000000;
SELECT *
  FROM registrations
 WHERE attendee_id = 7;
# Time: 261126 12:00:02
# User@Host: app[app] @ localhost []
# Query_time: 0.250000  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 500
SET timestamp=1795000001;
/* perfcore-advisor */ EXPLAIN SELECT * FROM registrations WHERE attendee_id = 7;
# Query_time: 2.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 10
SET timestamp=1795000002;
UPDATE notifications SET status = 'sent' WHERE attendee_id = 3;
# Query_time: 0.3  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 10
SET timestamp=1795000003;
INSERT INTO t VALUES (1);
"""


def test_slow_log_file_entries_and_filters() -> None:
    samples = list(parse_slow_log_file(SLOW_LOG.splitlines(keepends=True)))
    # The advisor's own EXPLAIN is left out; the INSERT is listed, not analysed.
    assert [(s.sql.split()[0], s.skipped) for s in samples] == [
        ("SELECT", None),
        ("UPDATE", None),
        ("INSERT", NOT_ANALYSED),
    ]
    first = samples[0]
    assert first.db == "platform"
    assert (first.total_s, first.rows_sent, first.rows_examined) == (1.5, 20, 1_000_000)
    assert "attendee_id = 7" in first.sql and not first.sql.endswith(";")


def test_keep_drops_own_statements_and_non_queries() -> None:
    assert keep("SELECT 1 FROM t")
    assert keep("/* app */ (SELECT 1 FROM t) UNION (SELECT 2 FROM u)")
    assert keep("delete from t where a = 1")
    assert not keep(f"{TAG} EXPLAIN SELECT 1 FROM t")
    assert not keep("SELECT 1 /* perfcore-advisor */ FROM t")
    assert not keep("CREATE TABLE x (a int)")
    assert not keep("DROP TABLE x")


def test_quote_doubles_backquotes_and_bounds_names() -> None:
    assert quote("a`b") == "`a``b`"
    with pytest.raises(ValueError):
        quote("x" * 65)
    assert len(index_name("t" * 40, ["column_a", "column_b", "column_c"])) <= 64


def test_session_refuses_statements_outside_the_allow_list() -> None:
    session = Session(connection=None)  # type: ignore[arg-type]  # refused before any I/O
    for sql in (
        "DROP TABLE events",
        "DELETE FROM events",
        "UPDATE events SET a = 1",
        "EXPLAIN SELECT 1; DROP TABLE events",
        "ALTER TABLE events DROP COLUMN a",
        "INSERT INTO t VALUES (1)",
    ):
        with pytest.raises(StatementRefused):
            session.run(sql)
    assert session.statements == []


def test_month_bounds_switch_to_years_beyond_three_years() -> None:
    assert month_starts(dt.date(2026, 11, 5), dt.date(2027, 1, 2)) == [
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 1),
        dt.date(2027, 2, 1),
    ]
    yearly = month_starts(dt.date(2020, 1, 1), dt.date(2026, 6, 1))
    assert yearly[0] == dt.date(2021, 1, 1) and yearly[-1] == dt.date(2027, 1, 1)


def test_partition_ddl_for_datetime_and_timestamp() -> None:
    cat = Catalog("db")
    table = Table("logs", 5_000_000, "InnoDB")
    table.columns = {"id": Column("id", "bigint", 8), "at": Column("at", "datetime", 8),
                     "ts": Column("ts", "timestamp", 4)}  # fmt: skip
    table.indexes = {"PRIMARY": Index("PRIMARY", ("id",), True)}
    cat.tables["logs"] = table
    ddl = partition_ddl(cat, table, "at", dt.date(2026, 1, 3), dt.date(2026, 2, 9))
    assert ddl.startswith("ALTER TABLE `db`.`logs` PARTITION BY RANGE COLUMNS(`at`)")
    assert "PARTITION p202602 VALUES LESS THAN ('2026-02-01')" in ddl
    assert ddl.rstrip().endswith("PARTITION pmax VALUES LESS THAN (MAXVALUE)\n)")
    stamp = partition_ddl(cat, table, "ts", dt.date(2026, 1, 3), dt.date(2026, 1, 9))
    assert "RANGE (UNIX_TIMESTAMP(`ts`))" in stamp
