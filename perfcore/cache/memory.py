"""L1: the bounded in-process tier (LRU by entries and approximate bytes, with expiry).

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
from collections import OrderedDict
from typing import Any

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


class MemoryCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self._data: OrderedDict[L1Key, L1Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: L1Key, now: float) -> L1Entry | None:
        """The live entry for ``key`` (marked most recently used), or None."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return entry

    def set(self, key: L1Key, entry: L1Entry) -> bool:
        """Store ``entry``, evicting least recently used ones; False if it can never fit."""
        self._drop(key)
        if entry.size > self.max_bytes:
            return False
        self._data[key] = entry
        self.bytes += entry.size
        while len(self._data) > self.max_entries or self.bytes > self.max_bytes:
            _, oldest = self._data.popitem(last=False)
            self.bytes -= oldest.size
            self.evictions += 1
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
        self.bytes = 0

    def _drop(self, key: L1Key) -> bool:
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        return True
