"""``perfcore serve``: run the reference API with uvicorn, bound to 127.0.0.1 only."""

from __future__ import annotations

from pathlib import Path

import click

from perfcore.cli_options import (
    cache_redis_option,
    config_option,
    database_url_option,
    set_option,
)
from perfcore.config import load_config
from perfcore.errors import BadInput, ServiceUnavailable

DEFAULT_DB = "sqlite:///.perfcore/service.db"


def _check_database_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from perfcore.urls import check_service_url

    check_service_url(url, "--database-url")  # a malformed host or port is bad input
    try:
        parsed = make_url(url)
        parsed.get_dialect()  # an unknown driver fails here, not in the server's start-up
    except NoSuchModuleError:  # (a subclass of ArgumentError: first)
        raise BadInput(f"--database-url: no SQLAlchemy driver for {parsed.drivername!r}") from None
    except ArgumentError:
        raise BadInput(f"--database-url: not a SQLAlchemy URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return url


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@database_url_option(DEFAULT_DB)
@cache_redis_option
@click.option(
    "--queues-redis", default=None, help="BullMQ Redis for exports (default: run them in process)"
)
@config_option
@set_option
@click.option("--no-seed", is_flag=True, help="do not fill an empty database with demo data")
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info"
)
def serve(
    port: int,
    database_url: str | None,
    redis_url: str | None,
    queues_redis: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    no_seed: bool,
    log_level: str,
) -> None:
    """Run the reference event-platform API on http://127.0.0.1:PORT (the load-test target)."""
    import uvicorn

    from perfcore.service.app import ServiceOptions, create_app

    config = load_config(config_path, list(overrides))
    database_url = database_url or DEFAULT_DB
    options = ServiceOptions(seed=None) if no_seed else ServiceOptions()
    app = create_app(
        config,
        _check_database_url(database_url),
        cache_url=redis_url,
        queues_url=queues_redis,
        options=options,
    )
    click.echo(f"serving on http://127.0.0.1:{port} (database {database_url})", err=True)
    try:
        # Loopback only: this is a load-test target with demo data, not a public server.
        uvicorn.run(app, host="127.0.0.1", port=port, log_level=log_level, access_log=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise ServiceUnavailable(
                f"the service did not start (uvicorn exit {exc.code})"
            ) from None
