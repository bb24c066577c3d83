"""L1: the bounded in-process tier (LRU by entries and approximate bytes, with expiry).

The recency order and byte bound are :class:`cachetools.LRUCache`'s.

Entries are keyed by ``(namespace, key)`` so a hit needs no string building.
Each entry's size is the length of its JSON encoding (known anyway from L2)
plus a fixed overhead; that approximates memory well enough to bound it
without walking object graphs.  Expiry is absolute (the caller computes it
with :func:`perfcore.cache.policy.l1_expiry`, so an L1 copy never outlives its
L2 entry).  Pattern deletes walk the entries, matching ``namespace:key``
against the same Redis glob used for SCAN, so invalidating ``events:*`` leaves
every other namespace warm.
"""

from __future__ import annotations

import re
from typing import Any

import cachetools

# Key tuple, entry object and the dict slot: a rough per-entry cost in bytes.
ENTRY_OVERHEAD = 200

L1Key = tuple[str, str]


class L1Entry:
    """One cached value; ``tag`` is the caller's per-namespace bookkeeping object."""

    __slots__ = ("expires_at", "size", "tag", "value")

    def __init__(self, value: Any, expires_at: float, size: int, tag: Any = None) -> None:
        self.value = value
        self.expires_at = expires_at
        self.size = size + ENTRY_OVERHEAD
        self.tag = tag


class _LRU(cachetools.LRUCache[L1Key, L1Entry]):
    """cachetools' LRU, bounded in approximate bytes, counting what it evicts."""

    evictions = 0

    def popitem(self) -> tuple[L1Key, L1Entry]:
        item = super().popitem()
        self.evictions += 1
        return item


def _size(entry: L1Entry) -> int:
    return entry.size


class MemoryCache:
    # cachetools.LRUCache keeps the recency order and the byte bound (getsizeof);
    # the entry bound and expiry stay here: an LRUCache has one size measure, and
    # expiry is the caller's absolute time (never after the L2 entry's), which
    # TLRUCache's fixed timer and heap would only re-derive, more slowly per hit.
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data = _LRU(maxsize=max_bytes, getsizeof=_size)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def bytes(self) -> int:
        return int(self._data.currsize)

    @property
    def evictions(self) -> int:
        return self._data.evictions

    def get(self, key: L1Key, now: float) -> L1Entry | None:
        """The live entry for ``key`` (marked most recently used), or None."""
        try:
            entry = self._data[key]  # not .get(): one call fewer on the hit path
        except KeyError:
            return None
        if entry.expires_at <= now:
            self._drop(key)
            return None
        return entry

    def set(self, key: L1Key, entry: L1Entry) -> bool:
        """Store ``entry``, evicting least recently used ones; False if it can never fit."""
        self._drop(key)
        if entry.size > self.max_bytes:
            return False
        self._data[key] = entry
        while len(self._data) > self.max_entries:
            self._data.popitem()
        return True

    def delete(self, key: L1Key) -> bool:
        return self._drop(key)

    def delete_pattern(self, pattern: re.Pattern[str]) -> int:
        """Drop entries whose ``namespace:key`` fully matches ``pattern``."""
        doomed = [k for k in self._data if pattern.fullmatch(f"{k[0]}:{k[1]}")]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def clear(self) -> None:
        self._data.clear()

    def _drop(self, key: L1Key) -> bool:
        return self._data.pop(key, None) is not None
