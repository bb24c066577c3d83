"""The consumer side: BullMQ workers that run job handlers, and stop gracefully.

One process serves one or more queues, with one ``bullmq.Worker`` per queue
at the queue's configured concurrency (the seed started N workers of
concurrency 1 per queue, N times the connections for the same effect).

Failure semantics:

* an unknown job type or invalid job data fails the job at once
  (``UnrecoverableError``: retrying cannot help);
* any other exception is retried ``attempts`` times with exponential back-off;
* a worker that dies mid-job stops renewing its lock; after ``lock_duration_ms``
  another worker's stalled check (every ``stalled_interval_ms``) puts the job
  back in the queue, and it runs again (handlers are idempotent per job key,
  :func:`perfcore.queues.ids.job_key`, unique for the job's whole life);
* a lost Redis connection (a restart) is retried every ``reconnect_delay_ms``;
  a job whose result could not be stored meanwhile returns via the stalled check;
* a queue Redis without an append-only file is refused at start-up
  (``require_persistence``), as one that may evict keys is;
* SIGTERM stops fetching, lets in-flight jobs finish (up to
  ``shutdown_timeout_s``), then exits; jobs still running after that are left
  to the stalled check of the remaining workers.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bullmq import Job, UnrecoverableError, Worker
from sqlalchemy import Engine

from perfcore.config import ConfigError, QueuesConfig
from perfcore.errors import ServiceUnavailable
from perfcore.platform.database import connect
from perfcore.platform.schema import create_schema
from perfcore.queues.connection import QueueRedis, persistence_problems, verify
from perfcore.queues.handlers import (
    HANDLERS,
    Handler,
    InvalidJobData,
    JobContext,
    UnknownJobType,
    handler_for,
)
from perfcore.queues.ids import is_counter_id, job_key
from perfcore.queues.manager import queue_options
from perfcore.queues.shutdown import stop_worker
from perfcore.queues.watchdog import BEAT_S, LIVE_S, Progress, progress_key
from perfcore.redact import redact

log = logging.getLogger("perfcore.queues.worker")

Processor = Callable[[Job, str], Awaitable[Any]]


def load_handlers(specs: list[str]) -> dict[str, Handler]:
    """The built-in handlers plus every ``module:attribute`` mapping in ``specs``."""
    handlers = dict(HANDLERS)
    for spec in specs:
        module_name, sep, attribute = spec.partition(":")
        if not sep:
            raise ConfigError(f"queues.handlers: expected module:attribute, got {spec!r}")
        try:
            extra = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"queues.handlers: cannot load {spec!r}: {exc}") from None
        if not isinstance(extra, Mapping):
            raise ConfigError(f"queues.handlers: {spec!r} is not a mapping of job type -> handler")
        handlers.update(extra)
    return handlers


def worker_command(
    queues: Sequence[str],
    *,
    redis_url: str | None = None,
    concurrency: int | None = None,
    config_path: Path | None = None,
    overrides: Sequence[str] = (),
) -> list[str]:
    """The argv of one ``perfcore worker`` process, e.g. for a process-based autoscaler."""
    argv = [sys.executable, "-c", "from perfcore.cli import main; main()", "worker"]
    argv += ["--queues", ",".join(queues)]
    if redis_url:
        argv += ["--redis", redis_url]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if config_path:
        argv += ["--config", str(config_path)]
    for override in overrides:
        argv += ["--set", override]
    return argv


def select_queues(config: QueuesConfig, names: list[str]) -> dict[str, int]:
    """Queue name -> concurrency for the requested names (bad names are bad input)."""
    known = {spec.name: spec.concurrency for spec in config.queues}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        what = f"unknown queue {unknown[0]!r}" if unknown else "no queue given"
        raise ConfigError(f"--queues: {what}; configured: {', '.join(known)}")
    return {name: known[name] for name in names}


class WorkerProcess:
    """Workers for some queues in this process, sharing one database engine and thread pool."""

    def __init__(
        self,
        config: QueuesConfig,
        queue_names: list[str],
        *,
        redis_url: str | None = None,
        database_url: str | None = None,
        concurrency: int | None = None,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.config = config
        self.redis_url = redis_url or config.redis_url
        self.database_url = database_url or config.database_url
        self.concurrency = {
            name: concurrency or default
            for name, default in select_queues(config, queue_names).items()
        }
        self.handlers = dict(handlers) if handlers is not None else load_handlers(config.handlers)
        self.export_dir = Path(config.export_dir)
        self.workers: list[Worker] = []
        self.processed = 0
        self.progress: dict[str, Progress] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._stall_warned: set[str] = set()
        self._counter_ids_warned = False
        self._engine: Engine | None = None
        # Handlers are blocking (SQLAlchemy, file I/O): one thread per job slot.
        self._threads = ThreadPoolExecutor(max_workers=sum(self.concurrency.values()))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = connect(self.database_url, max_overflow=sum(self.concurrency.values()))
        return self._engine

    def processor(self, queue_name: str) -> Processor:
        """The BullMQ processor for one queue: dispatch on the job's name (its type)."""
        loop_threads = self._threads

        async def process(job: Job, token: str) -> Any:
            try:
                handler = handler_for(job.name, self.handlers)
            except UnknownJobType as exc:
                raise UnrecoverableError(str(exc)) from None
            job_id = str(job.id)
            if is_counter_id(job_id) and not self._counter_ids_warned:
                self._counter_ids_warned = True
                log.warning(
                    "job %s on %s has a counter id: its producer should set jobId to a UUID "
                    "(the key falls back to id + creation time)",
                    job_id,
                    queue_name,
                )
            ctx = JobContext(
                engine=self.engine,
                export_dir=self.export_dir,
                job_key=job_key(self.config.prefix, queue_name, job_id, job.timestamp),
            )
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(loop_threads, handler, ctx, job.data or {})
            except InvalidJobData as exc:
                raise UnrecoverableError(f"{job.name}: {exc}") from None

        return process

    def worker_options(self, queue_name: str, target: Any) -> dict[str, Any]:
        defaults = self.config.job_defaults
        return {
            **queue_options(target, self.config.prefix),
            "name": f"perfcore@{socket.gethostname()}:{os.getpid()}",
            "concurrency": self.concurrency[queue_name],
            "lockDuration": self.config.lock_duration_ms,
            "stalledInterval": self.config.stalled_interval_ms,
            "drainDelay": self.config.drain_delay_s,
            "maxStalledCount": self.config.max_stalled_count,
            "runRetryDelay": self.config.reconnect_delay_ms,
            # for jobs added without retention options (e.g. by other producers)
            "removeOnComplete": defaults.remove_on_complete,
            "removeOnFail": defaults.remove_on_fail,
        }

    async def start(self) -> None:
        """Check Redis, make sure the reference tables exist, start one Worker per queue."""
        target = await verify(self.redis_url, self.config.prefix)
        await self._check_persistence(target)
        await asyncio.get_running_loop().run_in_executor(self._threads, create_schema, self.engine)
        now = time.time()
        for name in self.concurrency:
            worker = Worker(name, self.processor(name), self.worker_options(name, target))
            worker.on("completed", self._on_completed)
            worker.on("failed", self._on_failed)
            worker.on("error", lambda err, *rest: log.error("worker error: %s", redact(str(err))))
            self.workers.append(worker)
            self.progress[name] = Progress(started=now)
        self._watchdog = asyncio.create_task(self._watch())
        log.info(
            "worker %d serving %s on %s",
            os.getpid(),
            ", ".join(f"{n}x{c}" for n, c in self.concurrency.items()),
            redact(self.redis_url),
        )

    async def _check_persistence(self, target: QueueRedis) -> None:
        problems = await persistence_problems(target)
        if problems and self.config.require_persistence:
            raise ServiceUnavailable(
                f"{problems[0]} (or accept the risk: queues.require_persistence=false)"
            )
        for problem in problems:
            log.warning("UNSAFE QUEUE REDIS: %s", problem)

    def _on_completed(self, job: Job, result: Any) -> None:
        self.processed += 1
        self.progress[job.queue.name].finish(time.time())
        log.info("completed %s %s (%s)", job.id, job.name, job.queue.name)

    def _on_failed(self, job: Job, err: BaseException) -> None:
        self.progress[job.queue.name].finish(time.time())
        log.warning("failed %s %s (%s): %s", job.id, job.name, job.queue.name, err)

    async def _watch(self) -> None:
        """Every BEAT_S: each queue's backlog, this worker's progress to Redis, a stall warning."""
        while True:
            for worker in self.workers:
                try:
                    await self._beat(worker)
                except Exception as exc:  # Redis away (a restart): the next beat retries
                    log.debug("watchdog: %s: %s", worker.name, redact(str(exc)))
            await asyncio.sleep(BEAT_S)

    async def _beat(self, worker: Worker) -> None:
        client, keys = worker.client, worker.keys
        backlog = int(await client.llen(keys["wait"])) + int(
            await client.zcard(keys["prioritized"])
        )
        progress = self.progress[worker.name]
        now = time.time()
        progress.observe(backlog, now)
        key = progress_key(self.config.prefix, worker.name)
        await client.hset(key, str(worker.workerName), progress.to_json())
        await client.expire(key, int(LIVE_S * 6))
        stalled = progress.stalled_s(now)
        if stalled > self.config.stall_after_s and worker.name not in self._stall_warned:
            self._stall_warned.add(worker.name)
            log.warning(
                "watchdog: %s has %d jobs waiting and this worker finished none for %.0f s "
                "(%d running)",
                worker.name,
                backlog,
                stalled,
                len(worker.jobs),
            )
        elif stalled <= self.config.stall_after_s:
            self._stall_warned.discard(worker.name)

    async def stop(self, timeout_s: float | None = None) -> bool:
        """Stop fetching and wait for in-flight jobs; True if they all finished in time."""
        timeout_s = self.config.shutdown_timeout_s if timeout_s is None else timeout_s
        if self._watchdog is not None:
            # bounded: a Redis call cancelled mid-flight may not honour it (queues.shutdown)
            self._watchdog.cancel()
            forget = asyncio.ensure_future(self._forget_all())
            await asyncio.wait({self._watchdog, forget}, timeout=BEAT_S)
        # Pause first, close after, and never hang on an idle fetch: see queues.shutdown.
        grace = self.config.drain_delay_s + 1.0
        stops = (stop_worker(worker, timeout_s, grace) for worker in self.workers)
        graceful = all(await asyncio.gather(*stops))
        if not graceful:
            log.warning(
                "jobs still running after %.0fs; leaving them to the stalled check", timeout_s
            )
        self._threads.shutdown(wait=graceful, cancel_futures=True)
        if self._engine is not None:
            self._engine.dispose()
        return graceful

    async def _forget_all(self) -> None:
        await asyncio.gather(*(self._forget(w) for w in self.workers), return_exceptions=True)

    async def _forget(self, worker: Worker) -> None:
        """Withdraw this worker's progress record: a stopped worker is not a stalled one."""
        await worker.client.hdel(
            progress_key(self.config.prefix, worker.name), str(worker.workerName)
        )

    async def run_until_signalled(self) -> bool:
        """Start, serve until SIGTERM or SIGINT, stop; True if the stop was graceful."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        log.info("signal received: finishing in-flight jobs")
        began = time.monotonic()
        graceful = await self.stop()
        log.info("workers closed in %.1f s", time.monotonic() - began)
        return graceful
