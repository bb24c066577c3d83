"""``perfcore worker`` and ``perfcore queues``: run workers, add jobs, read queue status.

Where the queue Redis is, in order: ``--redis``; ``queues.redis_url`` when
``--config`` or ``--set`` spells it out; the ``redis_queues`` service of a
running ``perfcore stack up``; the default ``queues.redis_url``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import click

from perfcore.cli_options import (
    config_option,
    database_url_option,
    emit,
    is_given,
    json_option,
    out_option,
    redis_option,
    set_option,
)
from perfcore.config import QueuesConfig, load_config, parse_json
from perfcore.errors import BadInput, CheckFailed
from perfcore.redact import install_log_redaction, redact

queues_redis_option = redis_option("queues", "queues.redis_url, else a running stack's")


def queues_config(config_path: Path | None, overrides: tuple[str, ...]) -> QueuesConfig:
    return load_config(config_path, list(overrides)).queues


def resolve_redis_url(
    explicit: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    config: QueuesConfig,
) -> str:
    """``--redis``, else one ``--config``/``--set`` gives, else a running stack's, else the default."""
    if explicit:
        return explicit
    if not is_given(config_path, overrides, "queues.redis_url"):
        from perfcore.stack import Stack

        info = Stack().status().get("redis_queues", {})
        if info.get("running") and isinstance(info.get("url"), str):
            return str(info["url"])
    return config.redis_url


# ------------------------------------------------------------------- worker


@click.command()
@click.option("--queues", "queue_list", required=True, help="comma-separated, e.g. critical,high")
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=None, help="jobs in parallel per queue"
)
@database_url_option("queues.database_url")
@queues_redis_option
@config_option
@set_option
def worker(
    queue_list: str,
    concurrency: int | None,
    database_url: str | None,
    redis_url: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
) -> None:
    """Process jobs from some queues until SIGTERM (in-flight jobs finish first).

    \b
      perfcore worker --queues critical,high
      perfcore worker --queues low --concurrency 2 --database-url mysql+pymysql://...
    """
    from perfcore.queues.shutdown import run_process
    from perfcore.queues.worker import WorkerProcess

    config = queues_config(config_path, overrides)
    names = [name.strip() for name in queue_list.split(",") if name.strip()]
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    install_log_redaction()  # job errors and library messages may quote a Redis or DB URL
    process = WorkerProcess(
        config,
        names,
        redis_url=resolve_redis_url(redis_url, config_path, overrides, config),
        database_url=database_url,
        concurrency=concurrency,
    )
    if not run_process(process.run_until_signalled()):
        raise CheckFailed("shutdown timed out; unfinished jobs return via the stalled check")
    click.echo(f"worker stopped after {process.processed} jobs", err=True)


# ------------------------------------------------------------------- queues


@click.group()
def queues() -> None:
    """The BullMQ priority queues: status, adding jobs, the reference database."""


@queues.command()
@queues_redis_option
@config_option
@set_option
@json_option
@out_option
def status(
    redis_url: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """Waiting, active, delayed, prioritized, completed, failed jobs and workers per queue."""
    from perfcore.queues.manager import status_sync
    from perfcore.queues.status import format_table

    config = queues_config(config_path, overrides)
    url = resolve_redis_url(redis_url, config_path, overrides, config)
    statuses = status_sync(config, redis_url=url)
    payload = {"redis": redact(url), "queues": {s.name: s.to_dict() for s in statuses}}
    emit(payload, as_json=as_json, out=out, stem="queues-status", text=format_table(statuses))


@queues.command()
@click.argument("job_type")
@click.option("--data", "data_json", default="{}", help="job data as a JSON object")
@click.option("--queue", default=None, help="force a queue (the priority still follows the type)")
@queues_redis_option
@config_option
@set_option
@json_option
@out_option
def add(
    job_type: str,
    data_json: str,
    queue: str | None,
    redis_url: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """Add one JOB_TYPE job where the routing policy sends it.

    \b
    Job data (--data, a JSON object) by handler:
      notification_sending, real_time_notification, emergency_alert:
        {"recipient": "a@example.org", "subject": "Doors open", "body": "", "channel": "email"}
      analytics_processing, dashboard_update, analytics_batch,
      report_generation, user_report:
        {"event_ids": [1, 2]}          (omit event_ids for every event)
      data_export, data_backup:
        {"table": "registrations", "event_id": 1}

    \b
    Example:
      perfcore queues add emergency_alert --redis redis://127.0.0.1:6380/0 \\
        --data '{"recipient": "ops@example.org", "subject": "Evacuate hall B"}'
    """
    from perfcore.queues.handlers import InvalidJobData, UnknownJobType, check_job
    from perfcore.queues.manager import QueueManager
    from perfcore.queues.worker import load_handlers

    data = parse_json(data_json, "--data")
    if not isinstance(data, dict):
        raise BadInput("--data: expected a JSON object")
    config = queues_config(config_path, overrides)
    # Everything a worker would refuse is refused here, before anything is enqueued.
    handlers = load_handlers(config.handlers)
    try:
        check_job(job_type, data, handlers)
    except UnknownJobType:
        raise BadInput(
            f"JOB_TYPE: unknown job type {job_type!r}; known: {', '.join(sorted(handlers))}"
        ) from None
    except InvalidJobData as exc:
        raise BadInput(f"--data.{exc}") from None
    names = [spec.name for spec in config.queues]
    if queue is not None and queue not in names:
        raise BadInput(f"--queue: unknown queue {queue!r}; configured: {', '.join(names)}")
    url = resolve_redis_url(redis_url, config_path, overrides, config)

    async def run() -> dict[str, Any]:
        async with QueueManager(config, redis_url=url) as manager:
            route = manager.route(job_type, queue)
            job = await manager.add(job_type, data, queue=queue)
            return {
                "id": job.id,
                "type": job_type,
                "queue": route.queue,
                "priority": route.priority,
            }

    result = asyncio.run(run())
    text = f"added {result['type']} as job {result['id']} to {result['queue']} (priority {result['priority']})"
    emit(result, as_json=as_json, out=out, stem="queues-add", text=text)


@queues.command("init-db")
@database_url_option("queues.database_url")
@click.option("--events", "events_count", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--per-event", type=click.IntRange(min=0), default=50, show_default=True)
@config_option
@set_option
def init_db(
    database_url: str | None,
    events_count: int,
    per_event: int,
    config_path: Path | None,
    overrides: tuple[str, ...],
) -> None:
    """Create the reference tables and fill them with demo data (if empty)."""
    from datetime import UTC, datetime

    from perfcore.platform.database import connect
    from perfcore.platform.schema import create_schema
    from perfcore.platform.seed import SeedSize, seed

    url = database_url or queues_config(config_path, overrides).database_url
    engine = connect(url)
    try:
        create_schema(engine)
        size = SeedSize(
            events=events_count,
            attendees=max(2 * per_event, 1),
            registrations_per_event=per_event,
            capacity=max(per_event, 1),
        )
        seed(engine, datetime.now(UTC).replace(tzinfo=None), size)
    finally:
        engine.dispose()
    click.echo(
        f"reference tables ready in {engine.url.render_as_string(hide_password=True)}", err=True
    )
