"""Pure cache decisions: which TTL, how long an L1 copy may live, when to refresh early.

No I/O and no clock: callers pass ``now`` (and the random draw ``u``), so the
cache manager and the simulation make the *same* decision from the same inputs.

XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
Prevention", VLDB 2015) recomputes a value *before* it expires with a
probability that grows as expiry approaches and with how slow the value is to
compute, so one caller refreshes while everyone else still gets hits.
"""

from __future__ import annotations

import math

from perfcore.config import CacheConfig

# The smallest u we feed to log(); u == 0 would mean "refresh infinitely early".
_MIN_U = 1e-300


def xfetch_should_refresh(
    now: float, expires_at: float, fetch_seconds: float, beta: float, u: float
) -> bool:
    """True when this caller should recompute the value now (XFetch).

    Refresh when ``now - fetch_seconds * beta * ln(u) >= expires_at`` with ``u``
    uniform in (0, 1].  ``-ln(u)`` is exponential with mean 1, so a caller
    refreshes, on average, ``fetch_seconds * beta`` seconds before expiry.
    ``beta == 0`` (or an unknown fetch time) only refreshes expired values.

    >>> xfetch_should_refresh(99.0, 100.0, 2.0, 1.0, 0.5)   # 99 + 2*0.69 >= 100
    True
    >>> xfetch_should_refresh(90.0, 100.0, 2.0, 1.0, 0.5)
    False
    """
    if now >= expires_at:
        return True
    if beta <= 0 or fetch_seconds <= 0:
        return False
    gap = -fetch_seconds * beta * math.log(min(1.0, max(u, _MIN_U)))
    return now + gap >= expires_at


# random.random() has 53-bit resolution, so u = 1 - random() >= 2**-53 and
# -ln(u) <= 53 * ln 2 < 37: no draw can refresh a value further from expiry
# than 37 * fetch_seconds * beta.
XFETCH_HORIZON = 37.0


def xfetch_possible(remaining: float, fetch_seconds: float, beta: float) -> bool:
    """Whether any draw of ``u`` could trigger a refresh ``remaining`` seconds before expiry.

    Lets a caller skip the random draw (and the logarithm) for fresh values.

    >>> xfetch_possible(100.0, 1.0, 1.0), xfetch_possible(30.0, 1.0, 1.0)
    (False, True)
    """
    return remaining <= fetch_seconds * beta * XFETCH_HORIZON


def xfetch_window_start(expires_at: float, fetch_seconds: float, beta: float) -> float:
    """When XFetch may start refreshing a value: ``37 * fetch_seconds * beta`` before expiry.

    L1 copies should end by then; otherwise a hot key read only from L1 would
    never reach the L2 read where the early-refresh draw happens, and would
    expire for everyone at once.

    >>> xfetch_window_start(100.0, 0.5, 2.0)
    63.0
    """
    return expires_at - fetch_seconds * beta * XFETCH_HORIZON


def l1_expiry(
    now: float,
    l2_expires_at: float,
    l1_max_ttl: float,
    fetch_seconds: float = 0.0,
    beta: float = 0.0,
) -> float:
    """When an L1 copy expires: after ``l1_max_ttl``, never after its L2 entry, and,
    with early refresh on, no later than where XFetch's window opens
    (:func:`xfetch_window_start`).

    >>> l1_expiry(100.0, 130.0, 60.0)
    130.0
    >>> l1_expiry(100.0, 1000.0, 60.0)
    160.0
    >>> l1_expiry(100.0, 130.0, 60.0, fetch_seconds=0.5, beta=1.0)
    111.5
    """
    return min(now + l1_max_ttl, xfetch_window_start(l2_expires_at, fetch_seconds, beta))


def ttl_for(namespace: str, config: CacheConfig, value_is_none: bool) -> float | None:
    """The L2 TTL in seconds for a value of ``namespace``; None means "do not cache".

    ``None`` results are cached only in namespaces with ``negative_ttl_s`` set,
    so a missing row does not hide a row created a moment later.
    """
    settings = config.namespace(namespace)
    if value_is_none:
        return settings.negative_ttl_s
    return settings.ttl_s


def uses_memory(namespace: str, config: CacheConfig) -> bool:
    """Whether values of ``namespace`` are also kept in the in-process L1 by default."""
    return config.namespace(namespace).use_memory
