"""Redaction: passwords in URLs and DSNs never reach a banner, a log line, an error or ``--json``.

One rule for any text that may hold a connection string:

* the password of a URL's user info, whatever the scheme:
  ``redis://:pw@h:6379/0`` -> ``redis://:***@h:6379/0``,
  ``mysql+pymysql://u:pw@h/db`` -> ``mysql+pymysql://u:***@h/db``
  (the user name stays: it says *who* connects, and is not a secret);
* ``password=``-style parameters (``password``, ``passwd``, ``pwd``, ``pass``,
  ``secret``, ``token``) in a query string or a ``key=value`` list.

The result stays a usable description of *where* a service is; only the
secret is masked.  Redaction is idempotent, so a message may pass through it
at every layer it crosses.

>>> redact("cannot reach redis://:s3cret@127.0.0.1:6380/0")
'cannot reach redis://:***@127.0.0.1:6380/0'
>>> redact("mysql+pymysql://app:pw@db:3306/platform?charset=utf8mb4&password=x")
'mysql+pymysql://app:***@db:3306/platform?charset=utf8mb4&password=***'
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"

# scheme://user:password@ - the password runs to the last "@" of the
# authority (an unencoded "@" in a password must not leak its tail).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*:)(?P<secret>[^\s/?#]*)@")
_PARAM = re.compile(
    r"(?P<head>(?:^|(?<=[?&;\s,(]))(?:password|passwd|pwd|pass|secret|token)=)"
    r"(?P<secret>[^&\s]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every URL password and ``password=`` value replaced by ``***``."""
    if "@" not in text and "=" not in text:  # the common case: nothing to mask
        return text
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK if m['secret'] else ''}@", text)
    return _PARAM.sub(lambda m: f"{m['head']}{MASK if m['secret'] else ''}", text)


def redact_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # tracebacks name URLs too; format once, redacted, and drop the raw exception
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Redact every record that reaches ``logger``'s handlers (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
