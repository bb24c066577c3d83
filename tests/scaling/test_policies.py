"""Scaling policies: the seed rule, HPA target tracking and KEDA-style queue backlog."""

from __future__ import annotations

import math

import pytest

from perfcore.config import ScalingConfig
from perfcore.scaling.policies import (
    Observation,
    PolicyHistory,
    QueueBacklogPolicy,
    SeedThresholdPolicy,
    TargetTrackingPolicy,
    make_policy,
)


def obs(
    now: float = 0.0,
    current: int = 4,
    ready: int | None = None,
    cpu: float | None = 0.5,
    memory: float | None = 0.5,
    rate: float | None = 100.0,
    backlog: float | None = None,
) -> Observation:
    return Observation(
        now, current, current if ready is None else ready, cpu, memory, rate, backlog
    )


def config(**kw: object) -> ScalingConfig:
    base: dict[str, object] = {"min_replicas": 1, "max_replicas": 50}
    base.update(kw)
    return ScalingConfig.model_validate(base)


# ------------------------------------------------------------------ seed rule


def test_seed_doubles_on_high_cpu_or_memory_and_clamps_to_max() -> None:
    policy = SeedThresholdPolicy(config(max_replicas=6, cooldown_s=0))
    assert policy.decide(obs(current=2, cpu=0.71)).replicas == 4
    assert policy.decide(obs(now=1, current=4, cpu=0.1, memory=0.81)).replicas == 6


def test_seed_halves_to_an_integer_rounding_up() -> None:
    policy = SeedThresholdPolicy(config(cooldown_s=0), baseline_request_rate=100)
    decision = policy.decide(obs(current=5, cpu=0.1, memory=0.1, rate=10))
    assert decision.replicas == 3  # the seed computed 2.5
    assert isinstance(decision.replicas, int)


def test_seed_needs_all_three_low_signals_to_scale_down() -> None:
    policy = SeedThresholdPolicy(config(cooldown_s=0), baseline_request_rate=100)
    assert policy.decide(obs(current=8, cpu=0.1, memory=0.1, rate=60)).replicas == 8
    assert policy.decide(obs(current=8, cpu=0.1, memory=0.5, rate=10)).replicas == 8
    assert policy.decide(obs(current=8, cpu=0.1, memory=0.1, rate=None)).replicas == 8
    assert policy.decide(obs(current=8, cpu=0.1, memory=0.1, rate=49)).replicas == 4


def test_seed_cooldown_blocks_a_second_change() -> None:
    policy = SeedThresholdPolicy(config(cooldown_s=60))
    assert policy.decide(obs(now=0, current=2, cpu=0.9)).replicas == 4
    held = policy.decide(obs(now=30, current=4, cpu=0.9))
    assert held.replicas == 4
    assert "cooldown" in held.reason and held.recommended == 8
    assert policy.decide(obs(now=61, current=4, cpu=0.9)).replicas == 8


def test_seed_baseline_from_config() -> None:
    policy = make_policy(config(policy="seed", baseline_request_rate=100.0, cooldown_s=0))
    assert policy.decide(obs(current=8, cpu=0.1, memory=0.1, rate=80)).replicas == 8


# ------------------------------------------------------------ target tracking


def test_target_tracking_formula_and_tolerance() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.5))
    assert policy.decide(obs(current=4, cpu=0.54)).replicas == 4  # within 10 %
    decision = policy.decide(obs(now=15, current=4, cpu=0.9))
    assert decision.replicas == math.ceil(4 * 0.9 / 0.5) == 8
    assert decision.recommended == 8


def test_scale_up_rate_limit_is_max_of_four_pods_and_double_per_period() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.1))
    first = policy.decide(obs(now=0, current=2, cpu=1.0))  # wants 20
    assert first.replicas == 6  # max(2 + 4, 2 * 2)
    assert "limited" in first.reason
    # Within the same 15 s period the budget counts from the period start (2).
    assert policy.decide(obs(now=5, current=6, cpu=1.0)).replicas == 6
    assert policy.decide(obs(now=16, current=6, cpu=1.0)).replicas == 12


def test_scale_down_waits_for_the_stabilization_window() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.5))
    assert policy.decide(obs(now=0, current=10, cpu=0.5)).replicas == 10
    for t in range(15, 300, 15):
        held = policy.decide(obs(now=t, current=10, cpu=0.1))
        assert held.replicas == 10, t
    assert policy.decide(obs(now=301, current=10, cpu=0.1)).replicas == 2


def test_stabilization_uses_the_highest_recommendation_in_the_window() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.5))
    policy.decide(obs(now=0, current=10, cpu=0.4))  # recommends 8
    policy.decide(obs(now=100, current=8, cpu=0.3125))  # recommends 5, floor is 8
    decision = policy.decide(obs(now=301, current=8, cpu=0.25))  # 8 @0 expired; 5 @100 remains
    assert decision.replicas == 5


def test_missing_metric_scales_up_but_never_down() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.5, target_memory=0.5))
    assert policy.decide(obs(now=0, current=4, cpu=0.1, memory=None)).replicas == 4
    up = policy.decide(obs(now=400, current=4, cpu=1.0, memory=None))
    assert up.replicas == 8 and "missing" in up.reason
    assert policy.decide(obs(now=800, current=8, cpu=None, memory=None)).replicas == 8


def test_not_ready_pods_count_as_idle_when_scaling_up() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.5))
    # 4 ready pods at 60 % plus 4 starting pods: 0.6 * 4 / 8 = 0.3 < target -> hold.
    assert policy.decide(obs(now=0, current=8, ready=4, cpu=0.6)).replicas == 8
    # 4 ready at 150 %: with 4 idle starters the ratio is 1.5 -> 12.
    assert policy.decide(obs(now=15, current=8, ready=4, cpu=1.5)).replicas == 12


def test_several_metrics_take_the_largest_recommendation() -> None:
    policy = TargetTrackingPolicy(
        config(target_cpu=0.5, target_memory=0.5, target_requests_per_replica=10)
    )
    decision = policy.decide(obs(current=4, cpu=0.5, memory=0.75, rate=80))
    assert decision.replicas == 8  # requests: 80 / 10 beats memory's 6
    assert decision.reason.startswith("requests")


# -------------------------------------------------------------- queue backlog


def test_queue_backlog_replicas_and_scale_to_minimum() -> None:
    policy = QueueBacklogPolicy(
        config(min_replicas=1, backlog_per_replica=100, scale_down_stabilization_s=0)
    )
    assert policy.decide(obs(now=0, current=1, backlog=450)).replicas == 5
    assert policy.decide(obs(now=15, current=5, backlog=0)).replicas == 1
    assert policy.decide(obs(now=30, current=1, backlog=None)).replicas == 1


def test_bounds_win_over_everything() -> None:
    policy = TargetTrackingPolicy(config(min_replicas=3, max_replicas=5))
    assert policy.decide(obs(current=1, cpu=None)).replicas == 3
    assert policy.decide(obs(now=15, current=9, cpu=None)).replicas == 5


def test_history_round_trips_through_json() -> None:
    policy = TargetTrackingPolicy(config(target_cpu=0.5))
    policy.decide(obs(now=0, current=10, cpu=0.5))
    restored = TargetTrackingPolicy(
        config(target_cpu=0.5), PolicyHistory.from_json(policy.history.to_json())
    )
    assert restored.decide(obs(now=100, current=10, cpu=0.1)).replicas == 10


@pytest.mark.parametrize("name", ["seed", "target-tracking", "queue-backlog"])
def test_make_policy_chooses_by_config(name: str) -> None:
    assert make_policy(config(policy=name)).name == name
