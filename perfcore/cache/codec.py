"""The L2 value format: a JSON envelope, optionally zlib-compressed, never pickle.

An entry is ``{"v": value, "e": expires_at, "d": fetch_seconds}`` encoded with
orjson.  ``e`` (wall-clock expiry) and ``d`` (how long the fetch took) are what
XFetch needs to decide on an early refresh without a second round trip (PTTL).
Values larger than ``max_bytes`` are either refused with :class:`ValueTooLarge`
or stored as ``b"z:" + zlib(json)`` (still refused if that is too large).
Plain JSON always starts with ``{``, so the two forms never collide, and other
languages can read the plain form directly.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal, NamedTuple

import orjson

_ZLIB_MAGIC = b"z:"
_JSON_OBJECT = ord("{")
_ZLIB_LEVEL = 6


_new_entry = tuple.__new__


class CacheValueError(TypeError):
    """A value cannot be stored as JSON (e.g. an arbitrary object, non-str dict keys)."""


class ValueTooLarge(ValueError):
    """An encoded value exceeds ``cache.max_value_bytes``."""


class CorruptEntry(ValueError):
    """Bytes in Redis under a cache key are not a cache envelope."""


class Entry(NamedTuple):
    """A decoded L2 entry; ``size`` is the stored length, used for L1 accounting.

    A NamedTuple rather than a frozen dataclass: it is built on every L2 hit.
    """

    value: Any
    expires_at: float
    fetch_seconds: float
    size: int


def encode(
    value: Any,
    expires_at: float,
    fetch_seconds: float,
    *,
    max_bytes: int,
    oversize: Literal["error", "compress"],
) -> bytes:
    """Encode an entry, compressing or refusing values over ``max_bytes``."""
    try:
        data = orjson.dumps({"v": value, "e": expires_at, "d": fetch_seconds})
    except TypeError as exc:
        raise CacheValueError(f"value: not JSON-serialisable: {exc}") from None
    if len(data) <= max_bytes:
        return data
    if oversize == "compress":
        packed = _ZLIB_MAGIC + zlib.compress(data, _ZLIB_LEVEL)
        if len(packed) <= max_bytes:
            return packed
        raise ValueTooLarge(
            f"value: {len(data)} bytes ({len(packed)} compressed) exceeds max_value_bytes={max_bytes}"
        )
    raise ValueTooLarge(f"value: {len(data)} bytes exceeds max_value_bytes={max_bytes}")


def decode(data: bytes) -> Entry:
    """Decode bytes written by :func:`encode`; anything else is :class:`CorruptEntry`."""
    raw = data
    if not data or data[0] != _JSON_OBJECT:
        if data[:2] != _ZLIB_MAGIC:
            raise CorruptEntry("not a cache entry: unknown format")
        try:
            raw = zlib.decompress(data[2:])
        except zlib.error as exc:
            raise CorruptEntry(f"bad compressed entry: {exc}") from None
    try:
        doc = orjson.loads(raw)
        # tuple.__new__ skips the NamedTuple's Python-level __new__: this runs on every L2 hit.
        return _new_entry(Entry, (doc["v"], float(doc["e"]), float(doc["d"]), len(data)))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptEntry(f"not a cache entry: {exc}") from None
