"""Fixtures: one private database per test module on the stack's MariaDB."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url


def database_dsn(server_dsn: str, database: str) -> str:
    return make_url(server_dsn).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def private_dsn(mariadb_dsn: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database named after the test module, dropped afterwards."""
    name = "dbopt_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:50]
    engine = sa.create_engine(mariadb_dsn, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
    yield database_dsn(mariadb_dsn, name)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    engine.dispose()


Admin = Callable[[str], "pymysql.Connection[pymysql.cursors.Cursor]"]


def _admin(dsn: str) -> pymysql.Connection:  # type: ignore[type-arg]
    url = make_url(dsn)
    return pymysql.connect(
        host=url.host, port=url.port, user=url.username, database=url.database, autocommit=True
    )


@pytest.fixture(scope="session")
def admin() -> Admin:
    """A plain PyMySQL connection (autocommit) to a DSN: the workload's and the witness's side."""
    return _admin
