"""Pure cache policy: XFetch, L1 expiry bound, TTL choice (no Redis)."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from perfcore.cache.policy import (
    l1_expiry,
    ttl_for,
    uses_memory,
    xfetch_possible,
    xfetch_should_refresh,
)
from perfcore.config import CacheConfig, NamespaceConfig

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)


def test_expired_always_refreshes() -> None:
    assert xfetch_should_refresh(100.0, 100.0, 0.0, 0.0, 1.0)
    assert xfetch_should_refresh(101.0, 100.0, 5.0, 1.0, 1.0)


def test_beta_zero_never_refreshes_early() -> None:
    assert not xfetch_should_refresh(99.999, 100.0, 10.0, 0.0, 1e-12)


def test_xfetch_formula() -> None:
    # now - delta*beta*ln(u) >= expiry
    u = 0.25
    gap = -2.0 * 1.5 * math.log(u)
    assert xfetch_should_refresh(100.0 - gap + 1e-9, 100.0, 2.0, 1.5, u)
    assert not xfetch_should_refresh(100.0 - gap - 1e-6, 100.0, 2.0, 1.5, u)


def test_u_zero_is_clamped_not_an_error() -> None:
    assert xfetch_should_refresh(0.0, 100.0, 1.0, 1.0, 0.0)


def test_mean_early_refresh_matches_fetch_time_times_beta() -> None:
    # -ln(u) ~ Exp(1): the fraction refreshing at distance d before expiry is exp(-d/(delta*beta)).
    rng = random.Random(7)
    delta, beta, distance = 2.0, 1.0, 2.0
    hits = sum(
        xfetch_should_refresh(100.0 - distance, 100.0, delta, beta, 1.0 - rng.random())
        for _ in range(20_000)
    )
    assert abs(hits / 20_000 - math.exp(-distance / (delta * beta))) < 0.02


@given(now=finite, expires=finite, delta=finite, beta=finite, u=st.floats(0.0, 1.0))
def test_refresh_is_monotonic_in_time(
    now: float, expires: float, delta: float, beta: float, u: float
) -> None:
    if xfetch_should_refresh(now, expires, delta, beta, u):
        assert xfetch_should_refresh(now + 1.0, expires, delta, beta, u)


@given(now=finite, l2=finite, max_ttl=st.floats(min_value=0.001, max_value=1e6))
def test_l1_never_outlives_l2(now: float, l2: float, max_ttl: float) -> None:
    expiry = l1_expiry(now, l2, max_ttl)
    assert expiry <= l2
    assert expiry <= now + max_ttl


def test_ttl_for_namespace_and_negative_caching() -> None:
    config = CacheConfig(
        default_ttl_s=42,
        namespaces={
            "events": NamespaceConfig(ttl_s=300, negative_ttl_s=5),
            "users": NamespaceConfig(ttl_s=60, use_memory=False),
        },
    )
    assert ttl_for("events", config, value_is_none=False) == 300
    assert ttl_for("events", config, value_is_none=True) == 5
    assert ttl_for("users", config, value_is_none=True) is None
    assert ttl_for("other", config, value_is_none=False) == 42
    assert ttl_for("other", config, value_is_none=True) is None
    assert not uses_memory("users", config)
    assert uses_memory("other", config)


@given(
    remaining=st.floats(min_value=0, max_value=1e6),
    delta=st.floats(min_value=0, max_value=1e3),
    beta=st.floats(min_value=0, max_value=10),
    draw=st.floats(min_value=0.0, max_value=1.0 - 2**-53),
)
def test_xfetch_possible_never_hides_a_refresh(
    remaining: float, delta: float, beta: float, draw: float
) -> None:
    # u = 1 - random.random() as the manager draws it
    if xfetch_should_refresh(0.0, remaining, delta, beta, 1.0 - draw):
        assert xfetch_possible(remaining, delta, beta)


def test_default_namespace_follows_a_copied_config() -> None:
    config = CacheConfig(default_ttl_s=10)
    assert ttl_for("x", config, value_is_none=False) == 10
    copied = config.model_copy(update={"default_ttl_s": 99.0})
    assert ttl_for("x", copied, value_is_none=False) == 99
