"""Crafted slow-log entries cannot make the advisor send anything but its own statements.

Payloads arrive both through ``mysql.slow_log`` (statements the server really
logged, with the payload in a string literal or a comment) and through a
slow-log file (arbitrary text: stacked statements, DROP, DELETE, UPDATE, SLEEP,
INTO OUTFILE, comment break-outs).  The server's general log is the witness:
every statement the advisor's connection sent is listed and checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from perfcore.config import DbOptConfig
from perfcore.dbopt.advisor import AdviseOptions, advise
from perfcore.dbopt.session import TAG, Session, connect

Admin = Callable[[str], Any]  # the conftest's admin fixture
pytestmark = [pytest.mark.mariadb]

ROWS = 20_000
ALLOWED = (
    "SELECT ", "SHOW ", "SET SESSION ", "START TRANSACTION READ ONLY", "ROLLBACK",
    "EXPLAIN SELECT ", "ANALYZE FORMAT=JSON SELECT ", "ANALYZE TABLE ", "CREATE INDEX ", "DROP INDEX ",
)  # fmt: skip
CRAFTED_FILE = """\
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
SELECT id FROM canary WHERE v = 1; DROP TABLE canary;
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
DROP TABLE canary;
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
DELETE FROM canary WHERE v = 1;
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
UPDATE canary SET note = 'pwned' WHERE v = 2;
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
SELECT id FROM canary WHERE v = 9 -- */ ; DROP TABLE canary
;
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
SELECT SLEEP(3), id FROM canary WHERE v = 4;
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
SELECT * FROM canary WHERE v = 1 INTO OUTFILE '/tmp/pwned';
# Query_time: 9.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000
SELECT id FROM canary WHERE v = 6 FOR UPDATE;
"""


@pytest.fixture(scope="module")
def canary(private_dsn: str, admin: Admin) -> Iterator[str]:
    conn = admin(private_dsn)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE canary (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(100) NOT NULL)"
        )
        cur.execute(
            f"INSERT INTO canary SELECT seq, seq % 50, CONCAT('n', seq) FROM seq_1_to_{ROWS}"
        )
        cur.execute("SET SESSION long_query_time = 0")
        # Real slow-log rows with the payload inside a string literal and inside a comment.
        cur.execute("SELECT COUNT(*) FROM canary WHERE note = '; DROP TABLE canary; --' AND v = 3")
        cur.execute("SELECT id FROM canary WHERE v = 5 /* ; DROP TABLE canary */")
    conn.close()
    yield private_dsn


def test_crafted_entries_only_ever_reach_explain(canary: str, tmp_path: Path, admin: Admin) -> None:
    log_file = tmp_path / "slow.log"
    log_file.write_text(CRAFTED_FILE)
    witness = admin(canary)
    engine = connect(canary)
    try:
        with engine.connect() as connection, witness.cursor() as cur:
            session = Session(connection)
            thread_id = session.scalar("SELECT CONNECTION_ID()")
            cur.execute("SET GLOBAL general_log = 1")
            try:
                report = advise(
                    AdviseOptions(canary, apply=True, measure_latency=True, slow_log_file=log_file),
                    DbOptConfig(),
                    session,
                ).to_json()
            finally:
                cur.execute("SET GLOBAL general_log = 0")
            cur.execute(
                "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log"
                " WHERE thread_id = %s AND command_type = 'Query'",
                (thread_id,),
            )
            sent = [str(row[0]) for row in cur.fetchall()]
            cur.execute("SELECT COUNT(*), SUM(v = 1), SUM(note = 'pwned') FROM canary")
            count, v_one, pwned = cur.fetchone()  # type: ignore[misc]
    finally:
        engine.dispose()
        witness.close()

    # The table survived, untouched.
    assert (count, int(v_one), int(pwned)) == (ROWS, ROWS // 50, 0)
    # The witness saw exactly what the session recorded, and all of it is allow-listed.
    assert len(sent) >= len(session.statements) - 1 > 10
    for statement in sent:
        if statement.startswith("SELECT CONNECTION_ID()"):
            continue
        assert statement.startswith(TAG), statement
        body = statement[len(TAG) :].strip()
        # Besides those, only hiding and showing its own candidate from the planner.
        hides_own_index = re.fullmatch(
            r"ALTER TABLE `[^`]+`\.`canary` ALTER INDEX `idx_canary_\w+` (?:NOT )?IGNORED", body
        )
        assert body.upper().startswith(ALLOWED) or hides_own_index, body
        if "DROP TABLE" in body.upper() or "pwned" in body:
            # Only ever inside a string literal of a planned or profiled SELECT.
            assert body.startswith(("EXPLAIN SELECT", "ANALYZE FORMAT=JSON SELECT")), body
            assert "'; DROP TABLE canary; --'" in body
    # The real slow-log row with the payload in a literal was planned, literal intact.
    assert any("'; DROP TABLE canary; --'" in s for s in sent)
    # The crafted texts were refused for planning, with a reason.
    skipped = {q["fingerprint"]: q["skipped"] for q in report["queries"] if q["skipped"]}
    assert any("drop table" in fp for fp in skipped)
    assert any("sleep" in fp for fp in skipped)
    assert any("for update" in fp for fp in skipped)
    # The DELETE and UPDATE were analysed through their WHERE and helped pick v.
    assert any(s["columns"][0] == "v" for s in report["suggestions"])
    assert report["indexesCreated"] >= 1
