"""The reference event-platform API (FastAPI): what ``perfcore loadtest`` measures.

``create_app`` builds it on a database URL, the two-tier cache and, when a
queue Redis is given, the BullMQ priority queues; ``perfcore serve`` runs it
with uvicorn on loopback.  Importing this package is cheap; the app module
(FastAPI, SQLAlchemy, Redis) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfcore.service.app import ServiceOptions, create_app

__all__ = ["ServiceOptions", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from perfcore.service import app

        return getattr(app, name)
    raise AttributeError(name)
