"""Chaos: thousands of mixed jobs, workers SIGKILLed at random, the queue Redis restarted mid-run.

Real processes throughout: ``perfcore worker`` subprocesses on a queue Redis of
the test's own (AOF on, as the stack runs it) and a MariaDB database of its own.
Jobs of all ten types (so all four queues and priorities) are added in batches,
some after the restart.  Kills and the restart are triggered by progress
(completed-job counts), never by sleeps.  Afterwards every job completed and
its side effect exists exactly once: one outbox row per notification, one CSV
file per export, the aggregates of every event a report job named.

The counts (jobs, kills, restarts, lost, duplicated, recovery time) are printed
and written to ``reports/queues-chaos.json``; the workers' logs of the last run
are kept in ``reports/queues-chaos-logs/``.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REPO, config_overrides, make_config, perfcore_argv, worker_env
from sqlalchemy import create_engine, func, select, text

from perfcore.config import QueuesConfig
from perfcore.platform.database import connect
from perfcore.platform.schema import create_schema, notifications, report_aggregates
from perfcore.platform.seed import SeedSize, seed
from perfcore.queues.manager import QueueManager
from perfcore.queues.routing import route_job
from perfcore.stack import RedisServer, start_redis

pytestmark = [pytest.mark.redis, pytest.mark.mariadb, pytest.mark.slow]

JOBS = 3000
BATCHES = 6  # the last two are added after the Redis restart
WORKERS = 3
KILLS = 5
EVENTS = 10
DEADLINE_S = 240.0  # a hang guard, not a target: shared cores may be 10x oversubscribed
RECOVERY_BOUND_S = 20.0
NOTIFY = ("notification_sending", "real_time_notification", "emergency_alert")
REPORT = ("analytics_processing", "dashboard_update", "analytics_batch")
SUMMARY = ("report_generation", "user_report")
EXPORT = ("data_export", "data_backup")
TYPES = NOTIFY + REPORT + SUMMARY + EXPORT


def job_of(i: int) -> tuple[str, dict[str, Any]]:
    job_type = TYPES[i % len(TYPES)]
    event = (i // len(TYPES)) % EVENTS + 1  # every type meets every event
    if job_type in NOTIFY:
        return job_type, {"recipient": f"a{i}@example.org", "subject": f"chaos {i}"}
    if job_type in EXPORT:
        return job_type, {"table": "registrations", "event_id": event}
    return job_type, {"event_ids": [event]}


NOW = datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture()
def chaos_db(mariadb_dsn: str) -> Iterator[str]:
    server, _, _ = mariadb_dsn.rpartition("/")
    admin = create_engine(server + "/")
    with admin.begin() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS perfcore_chaos"))
        conn.execute(text("CREATE DATABASE perfcore_chaos"))
    url = server + "/perfcore_chaos"
    engine = connect(url)
    create_schema(engine)
    seed(engine, NOW, SeedSize(events=EVENTS, attendees=20, registrations_per_event=5, capacity=5))
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS perfcore_chaos"))
    admin.dispose()


class Fleet:
    """``perfcore worker`` processes on every queue; kill one, start its replacement."""

    def __init__(self, config: QueuesConfig, logs: Path) -> None:
        self.config, self.logs = config, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_paths: dict[int, Path] = {}

    def spawn(self) -> None:
        path = self.logs / f"worker{len(self.procs)}.log"
        log = path.open("wb")
        argv = perfcore_argv(
            "worker",
            "--queues",
            "critical,high,normal,low",
            "--concurrency",
            "4",
            "--redis",
            self.config.redis_url,
            *config_overrides(self.config),
            *("--set", f"queues.max_stalled_count={self.config.max_stalled_count}"),
            *("--set", f"queues.reconnect_delay_ms={self.config.reconnect_delay_ms}"),
        )
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=worker_env())
        self.procs.append(proc)
        self.log_paths[proc.pid] = path

    def ready(self) -> bool:
        """Every live worker has started serving (its SIGTERM handler is in place)."""
        return all(b"serving" in self.log_paths[p.pid].read_bytes() for p in self.live())

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [proc for proc in self.procs if proc.poll() is None]

    def kill_one(self, rng: random.Random) -> None:
        victim = rng.choice(self.live())
        victim.kill()  # SIGKILL: no cleanup, its jobs' locks just stop being renewed
        victim.wait(10)
        self.spawn()

    def stop(self) -> list[int | None]:
        """SIGTERM the live workers; their exit codes (None: had to be killed)."""
        live = self.live()
        for proc in live:
            proc.terminate()
        codes: list[int | None] = []
        for proc in live:
            try:
                codes.append(proc.wait(40))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(None)
        return codes


def finished(client: redis.Redis, config: QueuesConfig) -> tuple[int, int] | None:
    """(completed, failed) over all queues, or None while Redis is away."""
    try:
        pipe = client.pipeline()
        for spec in config.queues:
            pipe.zcard(f"{config.prefix}:{spec.name}:completed")
            pipe.zcard(f"{config.prefix}:{spec.name}:failed")
        counts = pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError):
        return None
    return sum(counts[0::2]), sum(counts[1::2])


def wait_for(check: Callable[[], bool], what: str, timeout_s: float) -> float:
    """Poll ``check`` until true; the seconds it took (AssertionError past the bound)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.02)
    return time.monotonic() - start


async def add_batch(config: QueuesConfig, first: int, count: int) -> None:
    async with QueueManager(config) as manager:
        await manager.add_bulk([job_of(i) for i in range(first, first + count)])


def test_no_job_is_lost_or_repeated_through_kills_and_a_redis_restart(
    run_dir: Path, tmp_path: Path, chaos_db: str
) -> None:
    server: RedisServer = start_redis(run_dir / "chaos-redis", maxmemory_policy="noeviction")
    config = make_config(
        server.url,
        tmp_path,
        database_url=chaos_db,
        # a job whose worker died and whose rescuer died too must run a third time
        max_stalled_count=5,
        reconnect_delay_ms=250,
        job_defaults={"backoff_delay_ms": 50, "remove_on_complete": 10 * JOBS},
    )
    logs = REPO / "reports" / "queues-chaos-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    fleet = Fleet(config, logs)
    client = redis.Redis.from_url(server.url, socket_timeout=2)
    rng = random.Random(14)
    per_batch = JOBS // BATCHES
    kill_at = sorted(rng.sample(range(per_batch // 2, JOBS - per_batch // 2, 25), KILLS))
    restart_at = JOBS // 2
    figures: dict[str, Any] = {"jobs": JOBS, "kills": 0, "restarts": 0}
    started = time.monotonic()
    try:
        asyncio.run(add_batch(config, 0, per_batch * (BATCHES - 2)))
        for _ in range(WORKERS):
            fleet.spawn()
        added = per_batch * (BATCHES - 2)
        while True:
            counts = finished(client, config)
            done = counts[0] + counts[1] if counts else 0
            if done >= JOBS:
                break
            assert time.monotonic() - started < DEADLINE_S, f"only {done}/{JOBS}: {figures}"
            if kill_at and done >= kill_at[0]:
                kill_at.pop(0)
                fleet.kill_one(rng)
                figures["kills"] += 1
            elif figures["restarts"] == 0 and done >= restart_at:
                down = time.monotonic()
                server.stop()  # SIGTERM: Redis writes the append-only file and exits
                server.start()  # same port, same directory: the jobs come back
                figures["restarts"] += 1
                figures["redis_down_s"] = round(time.monotonic() - down, 2)
                restored = finished(client, config)
                assert restored is not None
                figures["recovery_s"] = round(
                    wait_for(
                        lambda back=restored[0]: (
                            (c := finished(client, config)) is not None and c[0] > back
                        ),
                        "a job completed after the Redis restart",
                        RECOVERY_BOUND_S,
                    ),
                    2,
                )
                # new jobs after the restart: their keys must not collide with old ones
                while added < JOBS:
                    asyncio.run(add_batch(config, added, per_batch))
                    added += per_batch
            time.sleep(0.02)
        figures["wall_s"] = round(time.monotonic() - started, 1)
        wait_for(fleet.ready, "replacement workers serving", 60)
    finally:
        exit_codes = fleet.stop()
        server.stop()
    assert figures["restarts"] == 1 and figures["kills"] == KILLS

    # every job's side effect, exactly once
    engine = connect(chaos_db)
    with engine.connect() as conn:
        subjects = Counter(conn.execute(select(notifications.c.subject)).scalars())
        aggregates = set(
            conn.execute(select(report_aggregates.c.report, report_aggregates.c.event_id)).all()
        )
        keys = (
            report_aggregates.c.report,
            report_aggregates.c.event_id,
            report_aggregates.c.metric,
        )
        repeated_aggregates = len(
            conn.execute(select(*keys).group_by(*keys).having(func.count() > 1)).all()
        )
    engine.dispose()
    jobs = [job_of(i) for i in range(JOBS)]
    expected_subjects = {data["subject"] for t, data in jobs if t in NOTIFY}
    exports = {p.name for p in (tmp_path / "exports").glob("registrations-*.csv")}
    expected_exports = sum(t in EXPORT for t, _ in jobs)
    lost = len(expected_subjects - set(subjects)) + max(0, expected_exports - len(exports))
    duplicated = sum(n - 1 for n in subjects.values() if n > 1)
    figures |= {"lost": lost, "duplicated": duplicated, "failed": counts[1] if counts else None}
    figures["per_queue"] = dict(Counter(route_job(t, config).queue for t, _ in jobs))
    out = REPO / "reports" / "queues-chaos.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print("queues chaos:", json.dumps(figures))

    assert counts == (JOBS, 0)  # every job completed, none failed
    assert lost == 0 and duplicated == 0
    assert set(subjects) == expected_subjects
    assert len(exports) == expected_exports
    for event in range(1, EVENTS + 1):
        assert ("analytics", event) in aggregates and ("event_summary", event) in aggregates
    assert repeated_aggregates == 0  # no (report, event, metric) twice
    assert all(code == 0 for code in exit_codes), exit_codes  # graceful stop after the chaos
    assert figures["recovery_s"] < RECOVERY_BOUND_S
