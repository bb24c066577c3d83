"""Aggregate writes run again after an InnoDB deadlock, and only after one."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import pymysql
import pytest
from sqlalchemy.exc import OperationalError

from perfcore.queues.handlers import _transaction


class FlakyEngine:
    """``begin()`` whose first ``failures`` transactions die with MySQL error ``code``."""

    def __init__(self, failures: int, code: int | str) -> None:
        self.failures, self.code, self.begun = failures, code, 0

    @contextmanager
    def begin(self) -> Any:
        self.begun += 1
        if self.begun <= self.failures:
            raise OperationalError("DELETE ...", {}, pymysql.err.OperationalError(self.code, "x"))
        yield "conn"


def test_a_deadlocked_transaction_runs_again() -> None:
    engine = FlakyEngine(failures=2, code=1213)
    assert _transaction(engine, lambda conn: f"done on {conn}") == "done on conn"  # type: ignore[arg-type]
    assert engine.begun == 3


def test_other_errors_and_endless_deadlocks_are_raised() -> None:
    with pytest.raises(OperationalError):
        _transaction(FlakyEngine(failures=1, code=1146), lambda conn: None)  # type: ignore[arg-type]
    endless = FlakyEngine(failures=100, code=1213)
    with pytest.raises(OperationalError):
        _transaction(endless, lambda conn: None)  # type: ignore[arg-type]
    assert endless.begun == 5
