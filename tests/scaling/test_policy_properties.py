"""Invariants of every scaling policy, checked on generated observation sequences."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from perfcore.config import ScalingConfig
from perfcore.scaling.policies import Observation, ScalingPolicy, make_policy

POLICY_NAMES = st.sampled_from(["seed", "target-tracking", "queue-backlog"])
FRACTION = st.one_of(st.none(), st.floats(0.0, 1.5, allow_nan=False))
RATE = st.one_of(st.none(), st.floats(0.0, 5_000.0, allow_nan=False))


@st.composite
def configs(draw: st.DrawFn, policy: str | None = None) -> ScalingConfig:
    lo = draw(st.integers(1, 10))
    return ScalingConfig(
        policy=policy or draw(POLICY_NAMES),
        min_replicas=lo,
        max_replicas=draw(st.integers(lo, 60)),
        target_cpu=draw(st.floats(0.2, 0.9)),
        target_memory=draw(st.one_of(st.none(), st.floats(0.2, 0.9))),
        target_requests_per_replica=draw(st.one_of(st.none(), st.floats(1.0, 100.0))),
        cooldown_s=draw(st.sampled_from([0.0, 30.0, 60.0])),
        scale_down_stabilization_s=draw(st.sampled_from([0.0, 60.0, 300.0])),
        backlog_per_replica=draw(st.floats(1.0, 500.0)),
        baseline_request_rate=draw(st.one_of(st.none(), st.floats(1.0, 1000.0))),
    )


@st.composite
def observations(draw: st.DrawFn) -> list[tuple[float, int, float | None, float | None]]:
    """(dt, not-ready pods, cpu, memory) steps; replicas follow the decisions."""
    return draw(
        st.lists(
            st.tuples(st.floats(1.0, 120.0), st.integers(0, 3), FRACTION, FRACTION),
            min_size=1,
            max_size=40,
        )
    )


def run(
    policy: ScalingPolicy,
    steps: list[tuple[float, int, float | None, float | None]],
    rate: float | None,
    backlog: float | None,
    start: int,
) -> list[tuple[Observation, int]]:
    now, current, out = 0.0, start, []
    for dt, unready, cpu, memory in steps:
        now += dt
        o = Observation(now, current, max(current - unready, 0), cpu, memory, rate, backlog)
        decision = policy.decide(o)
        out.append((o, decision.replicas))
        current = decision.replicas
    return out


@settings(max_examples=150, deadline=None)
@given(configs(), observations(), RATE, RATE, st.integers(0, 80))
def test_always_an_integer_within_bounds(
    cfg: ScalingConfig,
    steps: list[tuple[float, int, float | None, float | None]],
    rate: float | None,
    backlog: float | None,
    start: int,
) -> None:
    for _, replicas in run(make_policy(cfg), steps, rate, backlog, start):
        assert type(replicas) is int
        assert cfg.min_replicas <= replicas <= cfg.max_replicas


@settings(max_examples=150, deadline=None)
@given(configs(), observations(), RATE, st.integers(1, 60))
def test_a_missing_metric_never_scales_down(
    cfg: ScalingConfig,
    steps: list[tuple[float, int, float | None, float | None]],
    rate: float | None,
    start: int,
) -> None:
    # Every observation lacks at least one signal the policy relies on.
    steps = [(dt, unready, None, memory) for dt, unready, _, memory in steps]
    for o, replicas in run(make_policy(cfg), steps, rate, None, start):
        if cfg.min_replicas <= o.current_replicas <= cfg.max_replicas:
            assert replicas >= o.current_replicas


def hpa_raw(current: int, cpu: float, target: float, tolerance: float) -> int:
    """The HPA formula for one fully ready CPU metric, written independently."""
    ratio = cpu / target
    return current if abs(ratio - 1) <= tolerance else math.ceil(round(current * ratio, 9))


@settings(max_examples=200, deadline=None)
@given(
    configs(policy="target-tracking"),
    st.lists(st.tuples(st.floats(1.0, 120.0), st.floats(0.0, 1.0)), min_size=2, max_size=40),
    st.integers(1, 60),
)
def test_no_scale_down_inside_the_window_after_a_higher_recommendation(
    cfg: ScalingConfig, steps: list[tuple[float, float]], start: int
) -> None:
    cfg = cfg.model_copy(update={"target_memory": None, "target_requests_per_replica": None})
    assert cfg.target_cpu is not None
    policy = make_policy(cfg)
    window = cfg.scale_down_stabilization_s
    now, current = 0.0, min(max(start, cfg.min_replicas), cfg.max_replicas)
    seen: list[tuple[float, int]] = []
    for dt, cpu in steps:
        now += dt
        decision = policy.decide(Observation(now, current, current, cpu, None, None, None))
        seen.append((now, hpa_raw(current, cpu, cfg.target_cpu, cfg.tolerance)))
        if decision.replicas < current:
            highest = max(r for t, r in seen if t > now - window or t == now)
            assert decision.replicas >= min(highest, cfg.max_replicas, current)
        current = decision.replicas


@settings(max_examples=150, deadline=None)
@given(
    configs(),
    st.floats(0.1, 80.0),  # constant load, in "fully busy pods"
    st.floats(0.0, 0.79),  # constant memory below the seed's scale-up line
    st.floats(0.0, 10_000.0),  # constant backlog
    st.integers(1, 60),
)
def test_no_oscillation_under_constant_load(
    cfg: ScalingConfig, load: float, memory: float, backlog: float, start: int
) -> None:
    policy = make_policy(cfg)
    now, current, history = 0.0, start, []
    # An hour at 15 s: memory held constant per pod can walk a pod count down one
    # stabilization window (300 s) at a time, from 60 pods to the floor in ~40 min.
    for _ in range(240):
        now += 15.0
        cpu = min(1.0, load / current)  # the same work spread over more pods
        o = Observation(now, current, current, cpu, memory, load * 10, backlog)
        current = policy.decide(o).replicas
        history.append(current)
    if not cfg.min_replicas <= start <= cfg.max_replicas:
        history = history[1:]  # the first step only corrects the bounds
    moves = [b - a for a, b in itertools.pairwise(history) if b != a]
    # Replicas move in one direction only, then settle.
    directions = {m > 0 for m in moves}
    assert len(directions) <= 1, history
    assert len(set(history[-30:])) == 1, history
