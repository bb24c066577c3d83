"""Service URLs: a malformed host or port is bad input; every URL SQLAlchemy accepts still passes."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from perfcore.config import ConfigError
from perfcore.urls import check_service_url

VALID = [
    "mysql+pymysql://root:secret@127.0.0.1:3306/platform",
    "mysql+pymysql://u:p/ss@db.internal/x",  # SQLAlchemy reads 'p/ss' as the password
    "mysql+pymysql://u:p#ss@h:3306/db",
    "mysql+pymysql://u:p?ss@h/db",
    "mysql+pymysql://u:p%40ss@h/db?charset=utf8mb4",
    "mysql+pymysql://u@h/db?init=a@b",
    "mysql+pymysql:///platform",
    "redis://:pw@127.0.0.1:6380/0",
    "redis://[::1]:6379/0",
    "rediss://cache.example.org",
    "sqlite:///.perfcore/service.db",
    "unix:///tmp/redis.sock",
]
MALFORMED = [
    ("mysql+pymysql://root:pw@127.0.0.1:notaport/x", "the port"),
    ("mysql+pymysql://root@127.0.0.1:99999/x", "the port"),
    ("redis://localhost:0/0", "the port"),
    ("mysql+pymysql://root@[bad/x", "malformed host"),
    ("redis://[zz]:1/0", "not an IPv6 address"),
    ("mysql+pymysql://root@host name/x", "'host name' is not a host name"),
    ("127.0.0.1:3306", "scheme"),
]


@pytest.mark.parametrize("url", VALID)
def test_valid_urls_pass(url: str) -> None:
    check_service_url(url, "--dsn")
    if url.startswith("mysql"):
        make_url(url)  # and SQLAlchemy agrees they are URLs


@pytest.mark.parametrize(("url", "problem"), MALFORMED)
def test_malformed_urls_name_the_option_never_the_password(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_service_url(url, "--dsn")
    message = str(raised.value)
    assert message.startswith("--dsn: ") and problem in message
    assert "pw" not in message
