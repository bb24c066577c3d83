"""MySQL 8 (testcontainers, where Docker runs): invisible-index verification, blob sql_text, INSERT fallback.

MySQL 8 starts with ``local_infile`` off, so seeding also exercises the
multi-row INSERT path; ``mysql.slow_log.sql_text`` is a blob there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from perfcore.config import DbOptConfig
from perfcore.dbopt.advisor import AdviseOptions, advise
from perfcore.dbopt.datagen import seed
from perfcore.dbopt.refschema import Scale
from perfcore.dbopt.workload import run

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SCALE = Scale(20_000)


@pytest.fixture(scope="module")
def mysql_dsn() -> Iterator[str]:
    from testcontainers.mysql import MySqlContainer

    container = MySqlContainer(
        "mysql:8.0", dialect="pymysql", username="root", password="test", dbname="platform"
    ).with_command(
        "--log-output=TABLE --slow-query-log=1 --long-query-time=0"
        " --default-authentication-plugin=mysql_native_password"
    )
    with container:
        yield container.get_connection_url()


def test_mysql8_advisor_apply_makes_verified_indexes_visible(mysql_dsn: str) -> None:
    seed(mysql_dsn, SCALE)
    run(mysql_dsn, SCALE, repeats=1)
    dry = advise(AdviseOptions(mysql_dsn), DbOptConfig()).to_json()
    assert dry["server"].startswith("mysql 8")
    assert dry["suggestions"] and dry["indexesCreated"] == 0
    engine = sa.create_engine(mysql_dsn)
    with engine.connect() as connection:
        leftover = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
            " AND INDEX_NAME LIKE 'idx\\_%'"
        ).scalar()
    assert leftover == 0
    applied = advise(
        AdviseOptions(mysql_dsn, apply=True, measure_latency=True), DbOptConfig()
    ).to_json()
    assert applied["indexesCreated"] == len(applied["suggestions"]) > 0
    with engine.connect() as connection:
        visible = dict(
            connection.exec_driver_sql(
                "SELECT DISTINCT INDEX_NAME, IS_VISIBLE FROM information_schema.STATISTICS"
                " WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME LIKE 'idx\\_%'"
            ).fetchall()
        )
    engine.dispose()
    assert visible == {s["name"]: "YES" for s in applied["suggestions"]}
    measured = [q for s in applied["suggestions"] for q in s["queries"]]
    assert all(q["latency_after_ms"] is not None for q in measured)
