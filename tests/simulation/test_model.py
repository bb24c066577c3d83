"""Behaviour of the whole model: determinism, policies wired in, cache invalidation, a baseline cross-check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfcore.config import validate_model
from simulation.naive import NaiveModel
from simulation.run import simulate
from simulation.scenario import Scenario, load_scenario

from .helpers import reduced

SCENARIOS = Path(__file__).resolve().parents[2] / "simulation" / "scenarios"
# The first hour and a half of the day with evenly spread starts (no waves, no sales).
SHORT = [
    "horizon_s=5400",
    "workload.events.start_waves=[]",
    "workload.ticket_sales.largest_events=0",
]


def _stable(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in summary.items() if k not in ("wall_seconds", "requests_per_wall_second")
    }


def test_same_seed_same_result_other_seed_other_result() -> None:
    a = simulate(load_scenario(None, SHORT, seed=3)).summary()
    b = simulate(load_scenario(None, SHORT, seed=3)).summary()
    c = simulate(load_scenario(None, SHORT, seed=4)).summary()
    assert a["requests"] > 50_000
    assert _stable(a) == _stable(b)
    assert _stable(a) != _stable(c)


def test_jobs_follow_the_routing_policy_in_the_config() -> None:
    default = simulate(load_scenario(None, SHORT)).summary()
    # The whole routes mapping, as given, replaces the default one: everything
    # but notification_sending now takes default_route (normal).
    moved = simulate(
        load_scenario(
            None, [*SHORT, "queues.routes={notification_sending: {queue: low, priority: 4}}"]
        )
    ).summary()
    before, after = default["queues"], moved["queues"]
    registrations = default["requests_by_class"]["register"]  # one notification each
    assert before["critical"]["jobs"] > 1000 and before["high"]["jobs"] > 1000
    assert after["critical"]["jobs"] == after["high"]["jobs"] == 0
    assert after["low"]["jobs"] >= before["low"]["jobs"] + registrations
    assert sum(q["jobs"] for q in after.values()) == sum(q["jobs"] for q in before.values())


def _read_heavy(writes_per_s: float | None) -> float:
    streams: list[dict[str, Any]] = [
        {"request_class": "event_detail", "rate_per_s": 50.0, "keys": 1}
    ]
    if writes_per_s:
        streams.append({"request_class": "register", "rate_per_s": writes_per_s, "keys": 100})
    data = reduced(
        horizon_s=1800.0,
        workload__streams=streams,
        # A registration invalidates its event's page (the platform's rule).
        infrastructure__request_classes={
            "event_detail": {"cpu_ms": 1.0},
            "register": {"cpu_ms": 1.0},
        },
        infrastructure__db={
            "queries": {
                q: {"with_index_ms": 2.0, "without_index_ms": 2.0}
                for q in ("event_by_id", "insert_registration")
            }
        },
        infrastructure__cache={"enabled": True},
        infrastructure__api={"slots_per_replica": 16, "cpus_per_replica": 16},
        cache={"namespaces": {"event_detail": {"ttl_s": 300.0}}},
    )
    return float(simulate(validate_model(Scenario, data)).summary()["cache"]["hit_ratio"])


def test_writes_invalidate_cached_reads() -> None:
    quiet = _read_heavy(None)
    busy = _read_heavy(2.0)  # every write drops the one cached event page
    assert quiet > 0.99
    # About one miss per write: 2 writes/s against 50 reads/s.
    assert busy == pytest.approx(1.0 - 2.0 / 50.0, abs=0.01)


def test_database_indexes_change_latency() -> None:
    fast = simulate(load_scenario(None, SHORT)).summary()
    slow = simulate(load_scenario(None, [*SHORT, "infrastructure.db.indexed=false"])).summary()
    assert slow["db"]["utilisation"] > 5 * fast["db"]["utilisation"]
    assert slow["latency_ms"]["p99"] > fast["latency_ms"]["p99"]


def test_scaling_policy_shapes_the_flash_crowd() -> None:
    path = SCENARIOS / "flash_crowd.yaml"
    runs = {
        policy: simulate(load_scenario(path, [f"scaling.policy={policy}"])).summary()
        for policy in ("seed", "target-tracking")
    }
    fixed = simulate(
        load_scenario(path, ["scaling.min_replicas=2", "scaling.max_replicas=2"])
    ).summary()
    for summary in runs.values():
        assert summary["replicas"]["max"] > 2
        assert summary["replicas"]["scaling_actions"] >= 2
        assert summary["slo"]["violation_minutes"] < fixed["slo"]["violation_minutes"]
    assert fixed["replicas"]["scaling_actions"] == 0
    seed, tt = runs["seed"], runs["target-tracking"]
    assert (seed["replicas"]["pod_hours"], seed["replicas"]["max"]) != (
        tt["replicas"]["pod_hours"],
        tt["replicas"]["max"],
    )


def test_naive_baseline_predicts_the_same() -> None:
    # Same arrivals and service draws, different machinery: one SimPy process per request.
    scenario = load_scenario(
        None,
        [
            "horizon_s=14400",
            "workload.events.count=20",
            "workload.events.total_attendees=6000",
            "workload.events.first_start_h=1",
            "workload.events.last_start_h=3",
            "scaling.min_replicas=2",
            "scaling.max_replicas=2",
        ],
    )
    naive = NaiveModel(scenario).run()
    fast = simulate(scenario).summary()
    assert naive.requests == fast["requests"] > 50_000
    assert fast["api"]["mean_latency_ms"] / 1000 == pytest.approx(naive.mean_latency_s, rel=0.03)
    assert fast["cache"]["hit_ratio"] == pytest.approx(naive.hit_ratio, abs=0.01)


def test_default_workload_shape() -> None:
    from simulation.model.platform import Platform

    platform = Platform(load_scenario())
    layout = platform.layout
    assert layout.count == 300
    assert int(layout.size.sum()) >= 199_000
    assert float(np.max(layout.size)) > 8 * float(np.median(layout.size))  # heavy tail
    overlapping = np.sum(
        (layout.start[:, None] < layout.end[None, :])
        & (layout.start[None, :] < layout.end[:, None])
    )
    assert overlapping > 10 * layout.count  # events run concurrently
    assert platform.workload.expected_requests() >= 5_000_000
