"""Opening the reference database: one engine factory for the service, the workers and the CLI."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from perfcore.urls import check_service_url


def connect(database_url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine with pool pre-ping (workers run for days; MariaDB drops idle connections)."""
    check_service_url(database_url, "database_url")
    if database_url.startswith("sqlite"):
        # SQLite serialises writers; wait for the lock instead of failing at once.
        return create_engine(database_url, connect_args={"timeout": 30})
    return create_engine(
        database_url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
    )
