"""Errors that the command line turns into exit codes.

``UsageError`` subclasses mean *bad input* (exit 2, one line naming the field);
``CheckFailed`` means a check or SLO gate failed (exit 1).
"""

from __future__ import annotations

from perfcore.config import ConfigError


class BadInput(ConfigError):
    """Input from a user (flag, file, state JSON) is invalid: exit code 2."""


class CheckFailed(RuntimeError):
    """A check or gate failed: exit code 1."""


class ServiceUnavailable(RuntimeError):
    """A required local service (Redis, MariaDB, Node) is missing or not running."""
