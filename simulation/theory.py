"""Closed forms the model is checked against.

* Erlang B by the stable recursion ``B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))``
  (no factorials, fine for hundreds of servers), Erlang C from it.
* M/M/c: probability of waiting and mean wait.
* Cobham's non-preemptive priority M/M/c (equal service rates):
  ``W_k = W0 / ((1 - s_{k-1})(1 - s_k))`` with ``W0 = C(c, a) / (c mu)`` and
  ``s_k`` the load of classes 1..k.
* A single key with Poisson requests at rate lambda, cached for T on a miss:
  hit ratio ``lambda T / (1 + lambda T)`` (renewal argument: each miss starts a
  cycle of T plus the wait for the next request).
* Little's law ``L = lambda W``.
"""

from __future__ import annotations


def erlang_b(servers: int, offered: float) -> float:
    """Blocking probability of M/M/c/c with ``offered`` = lambda / mu erlangs."""
    if servers < 0 or offered < 0:
        raise ValueError("servers and offered load must be non-negative")
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return b


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c (requires offered < servers)."""
    if offered >= servers:
        raise ValueError("unstable: offered load must be below the number of servers")
    b = erlang_b(servers, offered)
    return servers * b / (servers - offered * (1.0 - b))


def mmc_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in queue (before service) of M/M/c."""
    a = arrival_rate / service_rate
    return erlang_c(servers, a) / (servers * service_rate - arrival_rate)


def cobham_waits(arrival_rates: list[float], service_rate: float, servers: int) -> list[float]:
    """Mean wait per class (highest priority first) of non-preemptive priority M/M/c."""
    total = sum(arrival_rates)
    capacity = servers * service_rate
    w0 = erlang_c(servers, total / service_rate) / capacity
    waits, before = [], 0.0
    for rate in arrival_rates:
        upto = before + rate / capacity
        waits.append(w0 / ((1.0 - before) * (1.0 - upto)))
        before = upto
    return waits


def ttl_hit_ratio(arrival_rate: float, ttl: float) -> float:
    """Hit ratio of one key under Poisson requests, set with TTL ``ttl`` on each miss."""
    x = arrival_rate * ttl
    return x / (1.0 + x)


def little_l(arrival_rate: float, mean_time: float) -> float:
    """Mean number in the system by Little's law."""
    return arrival_rate * mean_time
