"""Two-tier cache: an in-process L1 in front of Redis or Redis Cluster (L2).

``CacheManager`` is the entry point; ``perfcore.cache.policy`` holds the pure
decisions (TTL choice, L1 expiry, XFetch early refresh) that the simulation
reuses.  Importing this package stays cheap: the manager (and with it
``redis``) is loaded on first attribute access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfcore.cache.manager import CacheManager

__all__ = ["CacheManager"]


def __getattr__(name: str) -> Any:
    if name == "CacheManager":
        from perfcore.cache.manager import CacheManager

        return CacheManager
    raise AttributeError(name)
