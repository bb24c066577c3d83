"""The redaction helper: URL and DSN passwords, password= parameters, logs."""

from __future__ import annotations

import logging

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from perfcore.redact import RedactingFilter, redact, redact_data

SECRET = "Zq7-secret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://:Zq7-secret@127.0.0.1:6380/0", "redis://:***@127.0.0.1:6380/0"),
        ("rediss://app:Zq7-secret@h:6380", "rediss://app:***@h:6380"),
        ("redis+cluster://:Zq7-secret@h:7000,h:7001", "redis+cluster://:***@h:7000,h:7001"),
        ("mysql+pymysql://u:Zq7-secret@db:3306/p", "mysql+pymysql://u:***@db:3306/p"),
        ("mysql+pymysql://u:p@ss@db/p", "mysql+pymysql://u:***@db/p"),  # an unencoded @
        ("sqlite:///x.db?password=Zq7-secret&mode=ro", "sqlite:///x.db?password=***&mode=ro"),
        ("host=db PASSWORD=Zq7-secret user=u", "host=db PASSWORD=*** user=u"),
        ("mysql+pymysql://root@127.0.0.1:3306/p", "mysql+pymysql://root@127.0.0.1:3306/p"),
        ("redis://127.0.0.1:6379/0 mailed a@b.org", "redis://127.0.0.1:6379/0 mailed a@b.org"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


PASSWORD_CHARS = st.characters(
    min_codepoint=33,
    max_codepoint=0x2FF,
    blacklist_characters="/?#@&",
    blacklist_categories=("Z", "C"),
)


@given(st.text(alphabet=PASSWORD_CHARS, min_size=6, max_size=40))
def test_no_password_survives(password: str) -> None:
    for template in ("redis://:{}@h:1/0", "mysql+pymysql://u:{}@h:3306/db", "x password={} y"):
        assume(password not in template.format(""))
        assert password not in redact(template.format(password))


def test_nested_payloads_and_log_records() -> None:
    payload = {"redis": f"redis://:{SECRET}@h:1/0", "n": 3, "nodes": [f"password={SECRET}"]}
    assert SECRET not in str(redact_data(payload))
    assert redact_data(payload)["n"] == 3
    record = logging.LogRecord(
        "t", logging.INFO, "f", 1, "serving on %s", (payload["redis"],), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "serving on redis://:***@h:1/0"
