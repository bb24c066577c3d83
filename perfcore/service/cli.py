"""``perfcore serve``: run the reference API with uvicorn (1 or N processes), on 127.0.0.1 only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="server processes (default: service.workers); more than 1 needs a cache Redis",
)
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
    workers: int | None,
    log_level: str,
) -> None:
    """Run the reference event-platform API on http://127.0.0.1:PORT (the load-test target)."""
    import uvicorn

    from perfcore.platform.seed import SeedSize
    from perfcore.service.app import ServiceOptions, create_app
    from perfcore.service.deploy import export_settings, plan_deployment, prepare_database

    config = load_config(config_path, list(overrides))
    d = plan_deployment(
        config,
        _check_database_url(database_url or DEFAULT_DB),
        redis_url,
        queues_redis,
        workers,
        not no_seed,
    )
    click.echo(f"serving on http://127.0.0.1:{port}: {d.describe()}", err=True)
    if d.workers == 1:
        options = ServiceOptions(
            seed=SeedSize() if d.seed else None, embedded_cache=not d.cache_url
        )
        app: Any = create_app(
            config, d.database_url, cache_url=d.cache_url, queues_url=d.queues_url, options=options
        )
        factory = False
    else:
        prepare_database(d.database_url, d.seed)
        export_settings(config, d)
        app, factory = "perfcore.service.deploy:worker_app", True
    try:
        # Loopback only: this is a load-test target with demo data, not a public server.
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level=log_level,
            access_log=False,
            workers=d.workers if d.workers > 1 else None,
            factory=factory,
        )
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise ServiceUnavailable(
                f"the service did not start (uvicorn exit {exc.code})"
            ) from None
