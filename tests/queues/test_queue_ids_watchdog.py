"""Pure parts of queue reliability: lifelong job keys, the persistence rule, the stall watchdog."""

from __future__ import annotations

import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from perfcore.queues.connection import persistence_problem
from perfcore.queues.ids import KEY_LIMIT, is_counter_id, job_key, new_job_id
from perfcore.queues.watchdog import LIVE_S, Progress, summarise


def test_producer_ids_are_uuids_and_never_look_like_counters() -> None:
    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 and not is_counter_id(i) and ":" not in i for i in ids)


def test_a_reused_counter_id_gets_a_different_key_in_its_second_life() -> None:
    # BullMQ restarts its counter at 1 after the queue Redis lost its data
    before = job_key("bull", "normal", "1", 1_700_000_000_000)
    after = job_key("bull", "normal", "1", 1_700_000_090_123)
    assert before != after
    assert before == "bull:normal:1@1700000000000"
    # a producer-chosen id is the key as it is: the same on every attempt
    assert job_key("bull", "normal", "9b2f", 5) == job_key("bull", "normal", "9b2f", 6)


@given(st.text(min_size=1, max_size=400))
def test_keys_fit_the_outbox_column(job_id: str) -> None:
    key = job_key("p" * 64, "q" * 40, job_id, 1)
    assert len(key) <= KEY_LIMIT
    assert key == job_key("p" * 64, "q" * 40, job_id, 1)


def test_persistence_rule() -> None:
    assert persistence_problem("h", {"appendonly": "yes", "appendfsync": "everysec"}) is None
    off = persistence_problem("h:1", {"appendonly": "no", "save": ""})
    assert off is not None and "appendonly no (no persistence)" in off
    rdb = persistence_problem("h:1", {"appendonly": "no", "save": "3600 1"})
    assert rdb is not None and "RDB snapshots only" in rdb
    lax = persistence_problem("h:1", {"appendonly": "yes", "appendfsync": "no"})
    assert lax is not None and "appendfsync no" in lax


def test_stall_grows_only_while_jobs_wait_and_none_finish() -> None:
    progress = Progress(started=100.0)
    progress.observe(backlog=0, now=101.0)
    assert progress.stalled_s(150.0) == 0.0  # nothing waits: no stall, however long
    progress.observe(backlog=5, now=160.0)
    assert progress.stalled_s(160.0) == 59.0  # since the queue was last seen empty
    progress.finish(170.0)
    assert progress.stalled_s(175.0) == 5.0  # a finished job resets it


def test_summary_takes_the_best_live_worker_and_ignores_dead_ones() -> None:
    now = 1000.0
    stuck = Progress(started=0.0, backlog=3, beat=now)
    busy = Progress(started=0.0, backlog=3, last_finished=now - 1, beat=now)
    dead = Progress(started=0.0, backlog=3, last_finished=now, beat=now - LIVE_S - 1)
    records = {"a": stuck.to_json(), "b": busy.to_json(), "c": dead.to_json(), "d": "{not json"}
    summary = summarise(records, now, stall_after_s=60)
    assert summary.stalled_s == 1.0 and summary.workers_stalled == 1
    assert summarise({"c": dead.to_json()}, now, 60).stalled_s is None
    assert summarise({"a": stuck.to_json()}, now, 60).to_dict() == {
        "stalled_s": 1000.0,
        "workers_stalled": 1,
    }
    assert json.loads(stuck.to_json())["backlog"] == 3
