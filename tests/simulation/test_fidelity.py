"""The model reduced to textbook systems agrees with their closed forms (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from perfcore.config import validate_model
from simulation.run import simulate
from simulation.scenario import Scenario
from simulation.theory import cobham_waits, erlang_c, mmc_mean_wait, ttl_hit_ratio

from .helpers import mmc_scenario, priority_scenario, priority_types, reduced


@pytest.mark.parametrize(
    ("lam", "mu", "servers", "customers"),
    [
        (14.0, 10.0, 2, 400_000),  # rho 0.70
        (80.0, 10.0, 10, 1_000_000),  # rho 0.80
        (450.0, 10.0, 50, 5_000_000),  # rho 0.90, c >= 50
    ],
)
def test_one_endpoint_matches_erlang_c(lam: float, mu: float, servers: int, customers: int) -> None:
    result = simulate(mmc_scenario(lam, mu, servers, customers / lam, seed=7))
    tot = result.metrics.totals
    n = int(tot.count.sum())
    assert n == pytest.approx(customers, rel=0.01)
    mean_wait = float(tot.wait_sum.sum()) / n
    assert mean_wait == pytest.approx(mmc_mean_wait(lam, mu, servers), rel=0.03)
    p_wait = int(tot.waited.sum()) / n
    assert abs(p_wait - erlang_c(servers, lam / mu)) <= 0.02


def test_priority_queue_matches_cobham() -> None:
    rates, service_s, workers = [0.75, 0.75, 0.75], 1.0, 3  # rho 0.75
    result = simulate(priority_scenario(rates, service_s, workers, 900_000 / sum(rates), seed=3))
    jobs = result.platform.jobs
    queue = jobs.queues[0]
    waits = np.frombuffer(queue.wait_s, dtype=np.float64)
    types = np.frombuffer(queue.wait_type, dtype=np.int8)
    expected = cobham_waits(rates, 1.0 / service_s, workers)
    for k, theory in enumerate(expected):
        mine = waits[types == jobs.type_id[priority_types(len(rates))[k]]]
        assert mine.shape[0] > 250_000
        assert float(mine.mean()) == pytest.approx(theory, rel=0.05), f"class {k + 1}"
    # Priorities matter: the classes are far apart, in order.
    assert expected[0] < expected[1] < expected[2]


@pytest.mark.parametrize(("lam", "ttl"), [(1.0, 2.0), (5.0, 0.5), (0.2, 10.0)])
def test_single_key_ttl_hit_ratio(lam: float, ttl: float) -> None:
    data = reduced(
        seed=11,
        horizon_s=60_000 / lam,
        workload__streams=[{"request_class": "event_detail", "rate_per_s": lam, "keys": 1}],
        infrastructure__request_classes={"event_detail": {"cpu_ms": 0.001}},
        infrastructure__api={"slots_per_replica": 4, "service": "deterministic"},
        infrastructure__cache={"enabled": True, "l1_lookup_ms": 0.0, "l2_rtt_ms": 0.0},
        cache={
            "xfetch_beta": 0.0,
            "namespaces": {"event_detail": {"ttl_s": ttl, "use_memory": False}},
        },
    )
    result = simulate(validate_model(Scenario, data))
    hit = result.summary()["cache"]["hit_ratio"]
    assert abs(hit - ttl_hit_ratio(lam, ttl)) <= 0.01


def test_littles_law_on_a_busy_run() -> None:
    # Cache, database, writes and invalidations: L measured by sampling the
    # number in the system every second, lambda and W from the requests.
    data = reduced(
        seed=5,
        horizon_s=3600.0,
        workload__streams=[
            {"request_class": "event_detail", "rate_per_s": 300.0, "keys": 500},
            {"request_class": "attendee_profile", "rate_per_s": 150.0, "keys": 20_000},
            {"request_class": "register", "rate_per_s": 30.0, "keys": 20_000},
        ],
        infrastructure__request_classes={
            "event_detail": {"cpu_ms": 20.0},
            "attendee_profile": {"cpu_ms": 25.0},
            "register": {"cpu_ms": 40.0},  # invalidates the profile it writes (the platform's)
        },
        infrastructure__db={
            "connections": 8,
            "queries": {
                "event_by_id": {"with_index_ms": 20.0, "without_index_ms": 80.0},
                "attendee_by_id": {"with_index_ms": 20.0, "without_index_ms": 80.0},
                "insert_registration": {"with_index_ms": 10.0, "without_index_ms": 20.0},
            },
        },
        infrastructure__api={"slots_per_replica": 24, "cpus_per_replica": 13},  # CPU rho ~0.84
        infrastructure__cache={"enabled": True},
        scaling={"min_replicas": 1, "max_replicas": 1},
    )
    result = simulate(validate_model(Scenario, data))
    tot = result.metrics.totals
    n = int(tot.count.sum())
    lam = n / result.scenario.horizon_s
    w = float(tot.sojourn_sum.sum()) / n
    l_measured = tot.in_system_sum / tot.in_system_samples
    busy = result.summary()["api"]
    assert busy["mean_wait_ms"] > 1.0, "the run should queue for slots"
    assert l_measured > 5.0
    assert l_measured == pytest.approx(lam * w, rel=0.02)
