"""Errors that the command line turns into exit codes, and the one line each prints.

``ConfigError``/``BadInput`` mean *bad input* (exit 2, one line naming the
field or file); ``CheckFailed`` means a check or SLO gate failed (exit 1);
``ServiceUnavailable`` a service that cannot be reached (exit 1).
:func:`classify` maps every other exception that reaches the top level onto
the same contract, so that no input can end in a traceback:

>>> classify(RecursionError("maximum recursion depth exceeded"))
(2, 'error: the input is nested too deeply')
>>> classify(FileNotFoundError(2, "No such file or directory", "run/stack.json"))
(2, 'error: run/stack.json: No such file or directory')
>>> classify(ConnectionRefusedError(111, "Connection refused"))
(1, 'error: cannot reach the service: Connection refused')
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from perfcore.config import ConfigError, format_validation_error
from perfcore.redact import redact

BAD_INPUT = 2
FAILED = 1


class BadInput(ConfigError):
    """Input from a user (flag, file, state JSON) is invalid: exit code 2."""


class CheckFailed(RuntimeError):
    """A check or gate failed: exit code 1."""


class ServiceUnavailable(RuntimeError):
    """A required local service (Redis, MariaDB, Node) is missing or not running."""


def _one_line(text: str) -> str:
    # These lines may quote a library's message: mask any password in it.
    first = text.strip().splitlines()[0] if text.strip() else ""
    return redact(first)


def _unreachable_types() -> tuple[type[BaseException], ...]:
    """Connection errors of the client libraries a command has imported (never imports them)."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    redis_exc = sys.modules.get("redis.exceptions")
    if redis_exc is not None:
        found += [redis_exc.ConnectionError, redis_exc.TimeoutError]
    httpx = sys.modules.get("httpx")
    if httpx is not None:
        found.append(httpx.TransportError)
    return tuple(found)


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line to print for an exception that reached the top level."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return classify(exc.exceptions[0])
    if isinstance(exc, ConfigError):
        return BAD_INPUT, f"error: {_one_line(str(exc))}"
    if isinstance(exc, CheckFailed):
        return FAILED, f"check failed: {_one_line(str(exc))}"
    if isinstance(exc, ServiceUnavailable):
        return FAILED, f"error: {_one_line(str(exc))}"
    if isinstance(exc, ValidationError):
        return BAD_INPUT, f"error: {_one_line(format_validation_error(exc))}"
    if isinstance(exc, UnicodeDecodeError):
        return BAD_INPUT, f"error: the input is not UTF-8 text (byte {exc.start}: {exc.reason})"
    if isinstance(exc, RecursionError):
        return BAD_INPUT, "error: the input is nested too deeply"
    if isinstance(exc, OverflowError):
        return BAD_INPUT, f"error: a number in the input is too large ({_one_line(str(exc))})"
    if isinstance(exc, MemoryError):
        return BAD_INPUT, "error: the input asks for more memory than this machine has"
    if isinstance(exc, _unreachable_types()):
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return FAILED, f"error: cannot reach the service: {_one_line(reason)}"
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        if exc.filename is not None:  # a path the user gave (or one under it)
            return BAD_INPUT, f"error: {exc.filename}: {_one_line(reason)}"
        return FAILED, f"error: {_one_line(reason)}"
    detail = _one_line(str(exc))
    return FAILED, (
        f"error: internal error ({type(exc).__name__}{': ' + detail if detail else ''});"
        " run with --debug for the traceback"
    )
