"""The CLI's error boundary: each known exception maps to one line and the contract's exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from perfcore.config import ConfigError
from perfcore.errors import BadInput, CheckFailed, ServiceUnavailable, classify


class _Model(BaseModel):
    replicas: int


def _validation_error() -> ValidationError:
    try:
        _Model.model_validate({"replicas": "many"})
    except ValidationError as exc:
        return exc
    raise AssertionError("validated")


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (BadInput("--data.table: Input should be 'events'"), 2, "error: --data.table: Input"),
        (ConfigError("cache.default_ttl_s: Input should be a finite number"), 2, "error: cache."),
        (CheckFailed("p95 above the SLO"), 1, "check failed: p95 above the SLO"),
        (ServiceUnavailable("queue Redis unreachable"), 1, "error: queue Redis unreachable"),
        (_validation_error(), 2, "error: replicas: Input should be a valid integer"),
        (
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            2,
            "error: the input is not UTF-8",
        ),
        (RecursionError(), 2, "error: the input is nested too deeply"),
        (OverflowError("cannot convert float infinity to integer"), 2, "error: a number"),
        (MemoryError(), 2, "error: the input asks for more memory"),
        (ConnectionRefusedError(111, "Connection refused"), 1, "error: cannot reach the service"),
        (TimeoutError("timed out"), 1, "error: cannot reach the service: timed out"),
        (IsADirectoryError(21, "Is a directory", "out"), 2, "error: out: Is a directory"),
        (PermissionError(13, "Permission denied"), 1, "error: Permission denied"),
        (ExceptionGroup("tasks", [BadInput("--queue: unknown")]), 2, "error: --queue: unknown"),
        (KeyError("x"), 1, "error: internal error (KeyError: 'x'); run with --debug"),
    ],
)
def test_each_known_exception_is_one_line_and_its_exit_code(
    exc: BaseException, code: int, line: str
) -> None:
    got_code, got_line = classify(exc)
    assert got_code == code and got_line.startswith(line), (got_code, got_line)
    assert "\n" not in got_line


def test_passwords_in_quoted_messages_are_scrubbed_but_user_names_kept() -> None:
    _, line = classify(RuntimeError("cannot use redis://:hunter2@127.0.0.1:6380/0 or mysql://u@h"))
    assert "hunter2" not in line and "redis://:***@127.0.0.1:6380/0" in line  # perfcore.redact
    assert "mysql://u@h" in line


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "inf.yaml").write_text("cache: {default_ttl_s: .inf}\n")
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**{k: v for k, v in os.environ.items() if k != "PERFCORE_DEBUG"}, **env},
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_then_the_same_line(how: str, tmp_path: Path) -> None:
    args = ["config", "check", "inf.yaml"]
    result = (
        _run(["--debug", *args], tmp_path)
        if how == "flag"
        else _run(args, tmp_path, PERFCORE_DEBUG="1")
    )
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: cache.default_ttl_s: Input should be a finite number"
    )


def test_without_debug_there_is_no_traceback(tmp_path: Path) -> None:
    result = _run(["config", "check", "inf.yaml"], tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
