"""Cache keys: validation, the Redis key layout, and Redis-style glob patterns.

A Redis key is ``{prefix}:{namespace}:{key}``.  Namespaces are plain names (no
glob characters, no ``:``) so that a pattern such as ``events:*`` means "every
key of namespace ``events``" on both tiers.  Keys may not contain whitespace or
glob characters either: ``invalidate(key)`` must never double as a pattern, and
``invalidate_pattern`` must match exactly what SCAN MATCH matches on Redis,
which is why L1 patterns are compiled here with Redis' glob rules rather than
:mod:`fnmatch` (which spells negation ``[!a]``, not ``[^a]``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from perfcore.errors import BadInput

NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_BAD_KEY_CHARS = re.compile(r"[\s*?\[\]\\]")
_MAX_PATTERN_LEN = 1024


class InvalidKey(BadInput):
    """A cache key, namespace or pattern is malformed (``field: problem``)."""


def validate_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not NAMESPACE_RE.fullmatch(namespace):
        raise InvalidKey(
            f"namespace: {namespace!r} must be 1-64 characters of letters, digits, '_', '.', '-'"
        )
    return namespace


def validate_key(key: str, max_bytes: int) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"key: {key!r} must be a non-empty string")
    if _BAD_KEY_CHARS.search(key):
        raise InvalidKey(f"key: {key!r} contains whitespace or a glob character (*?[]\\)")
    # UTF-8 needs at most 4 bytes a character: only long keys need encoding.
    if len(key) * 4 > max_bytes and len(key.encode("utf-8")) > max_bytes:
        raise InvalidKey(f"key: longer than {max_bytes} bytes")
    return key


def redis_key(prefix: str, namespace: str, key: str) -> str:
    """The L2 key for ``key`` in ``namespace``."""
    return f"{prefix}:{namespace}:{key}"


def lock_key(prefix: str, namespace: str, key: str) -> str:
    """The cross-process fetch lock; outside ``{prefix}:*`` so invalidation never drops it."""
    return f"lock:{prefix}:{namespace}:{key}"


def split_redis_key(prefix: str, full: str) -> tuple[str, str] | None:
    """``(namespace, key)`` of a Redis key under ``prefix``, or None if it is not one."""
    head = prefix + ":"
    if not full.startswith(head):
        return None
    namespace, sep, key = full[len(head) :].partition(":")
    if not sep or not key:
        return None
    return namespace, key


def validate_pattern(pattern: str) -> str:
    """A pattern over ``namespace:key`` (Redis glob syntax); ``*`` means the whole cache."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidKey("pattern: must be a non-empty string")
    if any(ch.isspace() for ch in pattern):
        raise InvalidKey(f"pattern: {pattern!r} contains whitespace")
    if len(pattern) > _MAX_PATTERN_LEN:
        raise InvalidKey(f"pattern: longer than {_MAX_PATTERN_LEN} characters")
    compile_glob(pattern)
    return pattern


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a Redis glob (``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\x``) to a regex.

    >>> bool(compile_glob("ev[^x]nts:*").fullmatch("events:1"))
    True
    >>> bool(compile_glob(r"a\\*").fullmatch("ab"))
    False
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise InvalidKey(f"pattern: {pattern!r} has an unclosed '['")
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            out.append(_char_class(body, negate))
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _char_class(body: str, negate: bool) -> str:
    if not body:
        # Redis: "[]" matches nothing, "[^]" any one character.
        return "." if negate else "(?!)"
    escaped = "".join("\\" + c if c in "\\^[" else c for c in body)
    return f"[{'^' if negate else ''}{escaped}]"
