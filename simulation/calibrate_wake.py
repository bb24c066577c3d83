"""Calibration of the wake-up cost: the same request is dearer on a core that was idle.

A core that sleeps between requests pays on every burst for waking up (sleep
states, caches that other work evicted); a busy one does not. On the
reference stack a cache hit's median was 0.46 ms at 20 req/s and 0.25 ms at
196 req/s, and the stack's CPU per request fell from 4.3 to 1.9 ms. The
model charges a request ``1 + W * (1 - exp(-g / tau))`` times its work when
it finds the core idle for ``g`` (``api.wake_factor`` W, ``api.wake_gap_s``
tau; ``db.wake_factor`` for the query times).

Over a run at ``lam`` requests per second with the core busy ``rho`` of the
time, an arrival finds the core idle with probability ``1 - rho`` (Poisson
arrivals see time averages), after an idle gap that is exponential with mean
``1 / lam``, and ``E[1 - exp(-g / tau)] = 1 / (1 + lam * tau)``: the average
request pays ``f = (1 - rho) / (1 + lam * tau)`` of W. Two runs of one
deployment (the low-load one and one at a higher load, ``perfcore calibrate
LOW --load-run RUN``) give two medians of the same work, ``m_low / m_run =
(1 + W f_low) / (1 + W f_run)``, solved for W: from the hits that L1 serves
(one CPU burst each) for the CPU, from the query classes' call times for the
queries. The low run's fitted costs are then divided by ``1 + W f_low``:
the model's costs are those of a warm core, and it adds the wake-up itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from perfcore.errors import BadInput
from simulation.calibrate_core import Fitted, core_busy, sharing_slowdown
from simulation.calibrate_shape import cpu_shape, l1_hits
from simulation.measured import ServerDelta, read_locust

# Fitted values that are a request's work on the core (api.wake_factor) or a query's time.
CPU_PATHS = (".cpu_ms", ".miss_cpu_ms", ".job_core_ms")
DB_SUFFIX = ".with_index_ms"


@dataclass(frozen=True)
class RunLoad:
    """How hard a run drove the core: requests per second and the core's busy share."""

    rate: float
    busy: float

    def paid(self, gap_s: float) -> float:
        """The share of the wake-up cost an average request of this run pays."""
        return (1.0 - self.busy) / (1.0 + self.rate * gap_s)


def run_load(delta: ServerDelta, directory: Path) -> RunLoad:
    """The run's rate and the core's busy share (the stack's CPU when it was pinned)."""
    requests = sum(h.count for h in delta.routes.values())
    wall = delta.stack_wall_s
    if wall is None:
        seconds = {int(s) for e in read_locust(directory) for s in e["num_reqs_per_sec"]}
        wall = float(max(seconds) - min(seconds) + 1) if seconds else None
    if not wall or requests <= 0:
        raise BadInput(f"{directory}: the run's length is not recorded (no requests per second)")
    busy = core_busy(delta, wall)
    if busy is None:
        if delta.cpu_s is None:
            raise BadInput(f"{directory}: no CPU time recorded (process_cpu_seconds_total)")
        busy = delta.cpu_s / wall
    return RunLoad(requests / wall, min(busy, 0.99))


def _l1_hit_median_s(delta: ServerDelta, endpoint: str, min_requests: int) -> float | None:
    served = l1_hits(delta, endpoint, min_requests)
    return delta.routes[endpoint].quantile(served[1] / 2) if served else None


def _ratio(pairs: list[tuple[float, float, float]]) -> float | None:
    """Count-weighted geometric mean of low / run medians: (low, run, count) triples."""
    total = sum(n for _, _, n in pairs)
    if not total:
        return None
    return math.exp(sum(n * math.log(a / b) for a, b, n in pairs if a > 0 and b > 0) / total)


def _factor(ratio: float | None, low: float, run: float) -> float | None:
    """W from ``ratio = (1 + W low) / (1 + W run)``; None when the data cannot give one."""
    if ratio is None or ratio <= 1.0 or low <= ratio * run:
        return None
    return (ratio - 1.0) / (low - ratio * run)


def wake_fit(
    low: ServerDelta,
    low_dir: Path,
    run: ServerDelta,
    run_dir: Path,
    gap_s: float,
    min_requests: int,
    core_share: float = 0.0,
) -> tuple[list[Fitted], float, float, list[str]]:
    """(the two factors as fitted, the low run's CPU and query divisors, what was not fitted).

    With the queries partly on the core (``core_share``), each run's query
    medians are first taken as on an idle core (:func:`sharing_slowdown`):
    the busier run's are slowed by sharing it, which hides their wake-up saving.
    """
    at_low, at_run = run_load(low, low_dir), run_load(run, run_dir)
    s_low = sharing_slowdown(at_low.busy, core_share)
    s_run = sharing_slowdown(at_run.busy, core_share)
    if at_run.rate <= at_low.rate:
        raise BadInput(f"--load-run {run_dir}: its rate must be above the low run's")
    f_low, f_run = at_low.paid(gap_s), at_run.paid(gap_s)
    how = (
        f"{at_low.rate:.0f} req/s (core {at_low.busy:.0%} busy) against {at_run.rate:.0f} req/s"
        f" ({at_run.busy:.0%}); a request pays {f_low:.3f} and {f_run:.3f} of it"
    )
    hits = []
    for endpoint in sorted(set(low.routes) & set(run.routes)):
        a = _l1_hit_median_s(low, endpoint, min_requests)
        b = _l1_hit_median_s(run, endpoint, min_requests)
        if a and b:
            hits.append((a, b, low.cache[endpoint].get("hit", 0.0)))
    queries = [
        (h.quantile(0.5) / s_low, run.queries[q].quantile(0.5) / s_run, h.count)
        for q, h in sorted(low.queries.items())
        if h.count >= min_requests and q in run.queries and run.queries[q].count >= min_requests
    ]
    out: list[Fitted] = []
    skipped: list[str] = []
    divisors = []
    for path, pairs, what in (
        ("infrastructure.api.wake_factor", hits, "L1 hits' medians"),
        ("infrastructure.db.wake_factor", queries, "query medians"),
    ):
        ratio = _ratio(pairs)
        w = _factor(ratio, f_low, f_run)
        if w is None:
            skipped.append(f"{path}: the {what} did not fall with load ({len(pairs)} pairs)")
            divisors.append(1.0)
            continue
        n = int(sum(c for _, _, c in pairs))
        out.append(Fitted(path, w, n, f"{what} {ratio:.2f}x lower at load; {how}"))
        divisors.append(1.0 + w * f_low)
    if out:
        out.append(Fitted("infrastructure.api.wake_gap_s", gap_s, 0, "as given (--wake-gap)"))
    return out, divisors[0], divisors[1], skipped


def warm_spread(run: ServerDelta, min_requests: int) -> Fitted | None:
    """``api.service_cv`` from the busier run's L1 hits: the spread of a warm core's bursts.

    At low load the hits' spread holds the wake-up's own (some find the core
    asleep, some not: sigma 0.37 against 0.21 at 85 % of capacity on the
    reference stack), and the model adds that again when it wakes the core.
    """
    shape, n, routes = cpu_shape(run, min_requests)
    if shape.sigma is None:
        return None
    how = f"L1 hits of {routes} in the load run: sigma {shape.sigma:.3f} (a warm core)"
    return Fitted("infrastructure.api.service_cv", shape.cv, n, how)


def warm(
    fitted: list[Fitted], cpu_divisor: float, db_divisor: float, spread: Fitted | None = None
) -> list[Fitted]:
    """The low run's costs as a warm core's: its CPU and query times less the wake-up,
    and the CPU's spread ``spread`` (:func:`warm_spread`) when there is one."""
    out = []
    for f in fitted:
        if spread is not None and f.path == spread.path:
            out.append(spread)
            continue
        div = 1.0
        if f.path.endswith(CPU_PATHS):
            div = cpu_divisor
        elif f.path.endswith(DB_SUFFIX):
            div = db_divisor
        if div != 1.0 and isinstance(f.value, float):
            f = replace(f, value=f.value / div, detail=f"{f.detail}; warm: / {div:.3f}")
        out.append(f)
    return out
