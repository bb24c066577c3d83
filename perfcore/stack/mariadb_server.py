"""MariaDB on loopback: a fresh data directory, the slow log in ``mysql.slow_log``.

Root has no password over TCP and the database ``perfcore`` exists, so the DSN
is ``mysql+pymysql://root@127.0.0.1:PORT/perfcore``.
"""

from __future__ import annotations

import getpass
import subprocess
from dataclasses import dataclass
from pathlib import Path

from perfcore.errors import ServiceUnavailable
from perfcore.stack.process import HOST, Server, require_program, with_port_retries

DATABASE = "perfcore"


def mariadb_ready(port: int, database: str = DATABASE) -> bool:
    """True once root can log in over TCP; creates ``database`` on the way."""
    import pymysql

    conn = pymysql.connect(host=HOST, port=port, user="root", connect_timeout=2)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    finally:
        conn.close()
    return True


def mariadb_dsn(port: int, database: str = DATABASE) -> str:
    return f"mysql+pymysql://root@{HOST}:{port}/{database}"


# Shared by the process and the container backends.
SERVER_OPTIONS = [
    "--log-output=TABLE",
    "--slow-query-log=1",
    "--long-query-time=0.1",
    "--local-infile=1",
    "--performance-schema=ON",
    "--innodb-buffer-pool-size=256M",
    "--innodb-flush-log-at-trx-commit=2",
    "--max-connections=500",
]


@dataclass
class MariaDB(Server):
    """``mariadbd`` on its own data directory, run as the current user."""

    def __post_init__(self) -> None:
        self.start_timeout_s = 120.0  # first start initialises InnoDB files

    @property
    def dsn(self) -> str:
        return mariadb_dsn(self.port)

    def _prepare(self) -> None:
        datadir = self.directory / "data"
        if (datadir / "mysql").exists():
            return
        datadir.mkdir(parents=True, exist_ok=True)
        argv = [
            require_program("mariadb-install-db", "mariadb-server"),
            *("--no-defaults", f"--datadir={datadir}", f"--user={getpass.getuser()}"),
            *("--auth-root-authentication-method=normal", "--skip-test-db"),
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ServiceUnavailable(f"mariadb-install-db failed: {result.stderr.strip()[-300:]}")

    def _argv(self) -> list[str]:
        return [
            require_program("mariadbd", "mariadb-server"),
            "--no-defaults",
            f"--datadir={self.directory / 'data'}",
            f"--socket={self.directory / 'mysqld.sock'}",
            f"--pid-file={self.directory / 'mysqld.pid'}",
            f"--port={self.port}",
            f"--bind-address={HOST}",
            f"--user={getpass.getuser()}",
            "--skip-name-resolve",
            *SERVER_OPTIONS,
        ]

    def _ready(self) -> bool:
        return mariadb_ready(self.port)


def start_mariadb(run_dir: Path) -> MariaDB:
    return with_port_retries(lambda port: MariaDB(run_dir, port).start(), None)
