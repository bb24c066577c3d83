"""Pure parts of the queue layer: job options, worker counting, URL checks, handler loading."""

from __future__ import annotations

import base64
import subprocess
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfcore.config import ConfigError, QueuesConfig
from perfcore.queues.connection import check_prefix, parse_redis_url
from perfcore.queues.manager import job_options
from perfcore.queues.routing import JOB_TYPES, Route, route_job
from perfcore.queues.status import QueueStatus, client_names, count_workers, format_table
from perfcore.queues.worker import load_handlers, select_queues, worker_command

CONFIG = QueuesConfig()


def test_job_options_carry_the_seed_defaults() -> None:
    opts = job_options(Route("critical", 1), CONFIG.job_defaults)
    assert uuid.UUID(opts.pop("jobId")).version == 4  # never BullMQ's restartable counter
    assert opts == {
        "priority": 1,
        "attempts": 3,
        "backoff": {"type": "exponential", "delay": 1000},
        "removeOnComplete": 100,
        "removeOnFail": 50,
    }


@given(st.sampled_from(JOB_TYPES) | st.text(max_size=20))
def test_every_job_gets_a_real_priority(job_type: str) -> None:
    # priority 0 means "no priority" in BullMQ and would run before every urgent job
    assert job_options(route_job(job_type, CONFIG), CONFIG.job_defaults)["priority"] >= 1


def test_default_queues_match_the_seed() -> None:
    assert [(q.name, q.concurrency) for q in CONFIG.queues] == [
        ("critical", 20),
        ("high", 15),
        ("normal", 10),
        ("low", 5),
    ]


def test_count_workers_understands_python_and_node_names() -> None:
    node = base64.b64encode(b"high").decode()
    names = [
        "bull:high:w:perfcore@a:1",  # python worker: two connections, one worker
        "bull:high:w:perfcore@a:1",
        "bull:high:w:perfcore@b:2",
        f"bull:{node}:w:node-interop",  # node worker: one named connection
        f"bull:{node}",  # unnamed node worker
        "bull:higher:w:x",  # another queue
        "bull:high:events",  # not a worker
        "",
    ]
    assert count_workers(names, "bull", "high") == 4
    assert count_workers(names, "other", "high") == 0


def test_client_names_from_text_and_parsed_replies() -> None:
    text = "id=1 addr=x name=bull:a fd=3\nid=2 addr=y name= fd=4\n"
    assert client_names(text) == ["bull:a", ""]
    assert client_names(text.encode()) == ["bull:a", ""]
    assert client_names([{"name": "bull:a"}, {"id": "2"}]) == ["bull:a", ""]


def test_backlog_is_jobs_not_yet_started() -> None:
    status = QueueStatus(
        "q", waiting=1, active=5, delayed=2, prioritized=4, completed=9, failed=1, workers=1
    )
    assert status.backlog == 7
    assert status.to_dict()["backlog"] == 7
    table = format_table([status])
    assert table.splitlines()[0].split()[0] == "queue"
    assert table.splitlines()[1].split() == ["q", "1", "5", "2", "4", "9", "1", "1", "-"]


def test_redis_urls() -> None:
    assert not parse_redis_url("redis://127.0.0.1:6379/0").is_cluster
    cluster = parse_redis_url("redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    assert cluster.cluster_nodes == (("127.0.0.1", 7000), ("127.0.0.1", 7001))
    with pytest.raises(ConfigError, match=r"^queues.redis_url: expected"):
        parse_redis_url("http://x")
    with pytest.raises(ConfigError, match=r"^queues.redis_url: expected host:port"):
        parse_redis_url("redis+cluster://127.0.0.1")


def test_cluster_needs_a_hash_tag_prefix() -> None:
    cluster = parse_redis_url("redis+cluster://127.0.0.1:7000")
    check_prefix(cluster, "{perfcore}")
    check_prefix(parse_redis_url("redis://h:1/0"), "bull")  # single server: anything goes
    with pytest.raises(ConfigError, match=r"^queues.prefix: .*hash tag.*\{bull\}"):
        check_prefix(cluster, "bull")


def test_select_queues() -> None:
    assert select_queues(CONFIG, ["critical", "low"]) == {"critical": 20, "low": 5}
    with pytest.raises(ConfigError, match=r"^--queues: unknown queue 'urgent'"):
        select_queues(CONFIG, ["urgent"])
    with pytest.raises(ConfigError, match=r"^--queues: no queue given"):
        select_queues(CONFIG, [])


def test_load_handlers() -> None:
    handlers = load_handlers(["queue_test_handlers:HANDLERS"])
    assert "slow_job" in handlers and "data_export" in handlers
    with pytest.raises(ConfigError, match=r"^queues.handlers: expected module:attribute"):
        load_handlers(["nocolon"])
    with pytest.raises(ConfigError, match=r"^queues.handlers: cannot load"):
        load_handlers(["no_such_module_xyz:H"])
    with pytest.raises(ConfigError, match=r"^queues.handlers: .* is not a mapping"):
        load_handlers(["queue_test_handlers:slow_job"])


def test_worker_command_runs_the_cli() -> None:
    argv = worker_command(
        ["critical", "high"], redis_url="redis://h:1/0", concurrency=3, overrides=["a.b=1"]
    )
    assert " ".join(argv[3:]) == (
        "worker --queues critical,high --redis redis://h:1/0 --concurrency 3 --set a.b=1"
    )
    help_argv = [*worker_command(["x"])[:4], "--help"]
    result = subprocess.run(help_argv, capture_output=True, text=True, timeout=60, check=True)
    assert "--queues" in result.stdout
