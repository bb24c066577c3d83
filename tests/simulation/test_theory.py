"""The closed forms themselves (independent values, limits, large c)."""

from __future__ import annotations

import math

import pytest

from simulation.theory import (
    cobham_waits,
    erlang_b,
    erlang_c,
    little_l,
    mmc_mean_wait,
    ttl_hit_ratio,
)


def test_erlang_b_matches_the_factorial_formula_for_small_c() -> None:
    for c, a in [(1, 0.5), (5, 3.0), (10, 5.0), (20, 18.0)]:
        direct = (a**c / math.factorial(c)) / sum(a**k / math.factorial(k) for k in range(c + 1))
        assert erlang_b(c, a) == pytest.approx(direct, rel=1e-12)


def test_erlang_c_known_values_and_large_c() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert mmc_mean_wait(7.0, 10.0, 1) == pytest.approx(0.7 / (10.0 - 7.0))
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)
    # Thousands of servers: the recursion neither overflows nor loses precision.
    big = erlang_c(5000, 4950.0)
    assert 0.0 < big < 1.0 and math.isfinite(big)
    with pytest.raises(ValueError):
        erlang_c(3, 3.0)


def test_cobham_reduces_to_erlang_c_and_orders_classes() -> None:
    single = cobham_waits([8.0], 10.0, 1)[0]
    assert single == pytest.approx(mmc_mean_wait(8.0, 10.0, 1))
    waits = cobham_waits([2.0, 2.0, 2.0], 1.0, 8)
    assert waits[0] < waits[1] < waits[2]
    # Conservation: the load-weighted mean equals the FCFS M/M/c wait.
    fcfs = mmc_mean_wait(6.0, 1.0, 8)
    assert sum(waits) / 3 == pytest.approx(fcfs)


def test_ttl_and_little() -> None:
    assert ttl_hit_ratio(1.0, 1.0) == pytest.approx(0.5)
    assert ttl_hit_ratio(10.0, 0.0) == 0.0
    assert little_l(100.0, 0.05) == pytest.approx(5.0)


def test_server_pool_is_fcfs_and_resizes_like_a_deployment() -> None:
    from simulation.model.pool import ServerPool

    pool = ServerPool(2)
    assert pool.serve(0.0, 5.0) == (0.0, 5.0)
    assert pool.serve(1.0, 5.0) == (1.0, 6.0)
    assert pool.serve(2.0, 1.0) == (5.0, 6.0)  # waits for the first free server
    assert pool.busy(5.5) == 2
    pool.resize(3, now=5.5)  # a new server is free from now on
    assert pool.serve(5.5, 1.0) == (5.5, 6.5)
    pool.resize(1, now=5.5)  # removal takes the earliest-free servers: work in flight completes
    assert pool.size == 1 and pool.heap == [6.5]
