"""Capacity planning: the fewest replicas and job workers that keep the targets, and where that breaks.

:func:`plan` scales a scenario to ``attendees`` (and ``events``), sets the
SLO, and searches, on the busiest hour of the day (as the tuner screens) and
on every seed:

1. the smallest ``scaling.min_replicas`` (with a high ``max_replicas``) whose
   run has at most ``slo.max_violation_minutes`` violating minutes, and at the
   same time, per queue, the smallest ``concurrency`` whose job-wait p95 meets
   the queue's target (queues do not compete with the API pods for anything,
   so one bisection per queue runs alongside);
2. the smallest ``max_replicas`` that still meets the SLO with that minimum;
3. the load at which the answer breaks: attendees grown in steps until a
   seed misses a target, then bisected.

The cost is the full day's (pod-hours, worker slots, priced Redis/DB) with
the answer; the whole day is then simulated on every seed, and a miss there
(a peak the screening left out) raises the minimum until it holds. Impossible inputs raise :class:`BadInput`
(exit 2): non-positive sizes, fewer attendees than events need, an SLO that
even ``MAX_REPLICAS`` pods miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfcore.errors import BadInput
from simulation.scenario import Scenario
from simulation.tune import evaluate_all
from simulation.tune_fidelity import busiest_window, screening
from simulation.tune_objectives import Evaluation
from simulation.tune_space import with_sets

MAX_REPLICAS = 200  # the search's ceiling, and the capacity an SLO must be reachable with
MAX_CONCURRENCY = 128
GROWTH = (1.25, 1.5, 2.0, 3.0, 4.0)  # load multiples tried for the breaking point


@dataclass(frozen=True)
class Answer:
    attendees: int
    events: int
    slo_p95_ms: float
    seeds: list[int]
    min_replicas: int
    max_replicas: int
    concurrency: dict[str, int]
    cost_usd: float
    pod_hours: float
    breaks_at_attendees: int | None  # None: held at the largest load tried
    checked: Evaluation  # the answer on the whole day, every seed
    simulations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "attendees": self.attendees,
            "events": self.events,
            "slo_p95_ms": self.slo_p95_ms,
            "seeds": self.seeds,
            "replicas": {"min": self.min_replicas, "max": self.max_replicas},
            "concurrency": self.concurrency,
            "cost_usd_per_day": round(self.cost_usd, 3),
            "pod_hours": round(self.pod_hours, 3),
            "breaks_at_attendees": self.breaks_at_attendees,
            "day": self.checked.to_json(),
            "simulations": self.simulations,
        }


def sized(base: Scenario, attendees: int, events: int | None, slo_p95_ms: float) -> Scenario:
    """``base`` with the day's size and the SLO set; BadInput names an impossible value."""
    n = base.workload.events.count if events is None else events
    if attendees <= 0:
        raise BadInput(f"--attendees: must be positive (got {attendees})")
    if n <= 0:
        raise BadInput(f"--events: must be positive (got {n})")
    if not math.isfinite(slo_p95_ms) or slo_p95_ms <= 0:
        raise BadInput(f"--slo-p95-ms: must be a positive number (got {slo_p95_ms:g})")
    floor = n * base.workload.events.min_attendees
    if attendees < floor:
        raise BadInput(
            f"--attendees: {attendees} is fewer than {n} events x"
            f" workload.events.min_attendees ({base.workload.events.min_attendees})"
        )
    return with_sets(
        base,
        [
            f"workload.events.total_attendees={attendees}",
            f"workload.events.count={n}",
            f"slo.p95_ms={slo_p95_ms!r}",
        ],
    )


class _Runner:
    """Peak-window evaluations of one sized scenario, counted."""

    def __init__(self, scenario: Scenario, seeds: list[int], jobs: int) -> None:
        self.scenario, self.seeds, self.jobs = scenario, seeds, jobs
        self.window = busiest_window(scenario)
        self.count = 0

    def run(self, sets: list[str], scenario: Scenario | None = None) -> Evaluation:
        sc = with_sets(scenario or self.scenario, sets)
        self.count += len(self.seeds)
        task = (screening(sc, busiest_window(sc)), self.seeds, "screen", False)
        return evaluate_all([task], self.jobs)[0]


def _slo_ok(ev: Evaluation) -> bool:
    return max(m.violation_min for m in ev.measures) <= ev.max_violation_min


def _queue_ok(ev: Evaluation, queue: str) -> bool:
    return ev.queue_wait(queue) <= ev.targets[queue]


def smallest_holding(guess: int, holds: Callable[[int], bool], ceiling: int) -> int:
    """The smallest ``n`` in ``[1, ceiling]`` that ``holds`` (monotone), searched from ``guess``.

    Galloping away from the guess, then bisecting: a good guess costs two or
    three evaluations. ``ceiling`` is returned when nothing holds.
    """
    guess = min(max(guess, 1), ceiling)
    step = 1
    if holds(guess):
        good, bad = guess, guess - step  # bad: the largest n known (or assumed, 0) to miss
        while bad >= 1 and holds(bad):
            good, step = bad, step * 2
            bad = good - step
        bad = max(bad, 0)
    else:
        bad, good = guess, min(guess + step, ceiling)
        while good < ceiling and not holds(good):
            bad, step = good, step * 2
            good = min(bad + step, ceiling)
        if not holds(good):
            return ceiling
    while good - bad > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if holds(mid) else (good, mid)
    return good


def _replicas(lo: int, hi: int) -> list[str]:
    return [f"scaling.min_replicas={lo}", f"scaling.max_replicas={hi}"]


def _queues(conc: dict[str, int]) -> list[str]:
    return [f"queues.queues.{q}.concurrency={c}" for q, c in conc.items()]


def plan(
    base: Scenario,
    attendees: int,
    *,
    events: int | None = None,
    slo_p95_ms: float = 250.0,
    seeds: int = 2,
    jobs: int = 1,
    on_step: Callable[[str], None] | None = None,
) -> Answer:
    if seeds < 1:
        raise BadInput(f"--seeds: must be at least 1 (got {seeds})")
    sc = sized(base, attendees, events, slo_p95_ms)
    seed_list = [sc.seed + i for i in range(seeds)]
    r = _Runner(sc, seed_list, jobs)
    say = on_step or (lambda _: None)
    targets = sc.queue_targets

    # The autoscaler free between 1 and MAX_REPLICAS, every queue at MAX_CONCURRENCY:
    # what it reaches bounds the search, and what it misses cannot be met.
    top = dict.fromkeys(targets, MAX_CONCURRENCY)
    free = r.run(_replicas(1, MAX_REPLICAS) + _queues(top))
    peak = max(max(m.max_replicas for m in free.measures), 1)
    ceiling = free if _slo_ok(free) else r.run(_replicas(peak, MAX_REPLICAS) + _queues(top))
    if not _slo_ok(ceiling):
        ceiling = r.run(_replicas(MAX_REPLICAS, MAX_REPLICAS) + _queues(top))
        if not _slo_ok(ceiling):
            raise BadInput(
                f"--slo-p95-ms: {slo_p95_ms:g} ms is not reachable: even {MAX_REPLICAS} replicas"
                f" give {max(m.violation_min for m in ceiling.measures):g} violating minutes"
            )
        peak = MAX_REPLICAS
    for q in targets:
        if not _queue_ok(ceiling, q):
            raise BadInput(
                f"slo.queue_wait_p95_s.{q}: {targets[q]:g} s is not reachable with"
                f" {MAX_CONCURRENCY} workers (p95 {ceiling.queue_wait(q):.1f} s)"
            )

    # 1. min_replicas and every queue's concurrency, bisected side by side
    #    (invariant: each upper end meets its target).
    rep = [1, 1 if _slo_ok(free) else peak]
    conc = {q: [1, MAX_CONCURRENCY] for q in targets}
    while rep[0] < rep[1] or any(lo < hi for lo, hi in conc.values()):
        mid = (rep[0] + rep[1]) // 2
        cmid = {q: (lo + hi) // 2 for q, (lo, hi) in conc.items()}
        ev = r.run(_replicas(mid, MAX_REPLICAS) + _queues(cmid))
        if rep[0] < rep[1]:
            if _slo_ok(ev):
                rep[1] = mid
            else:
                rep[0] = mid + 1
        for q, (lo, hi) in conc.items():
            if lo < hi:
                conc[q] = [lo, cmid[q]] if _queue_ok(ev, q) else [cmid[q] + 1, hi]
        say(f"min_replicas in [{rep[0]}, {rep[1]}]")
    min_rep = rep[1]
    concurrency = {q: hi for q, (_, hi) in conc.items()}
    fixed = _queues(concurrency)

    # 2. The smallest max_replicas that keeps the SLO with that minimum; the
    #    autoscaler never went past ``peak``, so more changes nothing.
    lo, hi = min_rep, max(peak, min_rep)
    while lo < hi:
        mid = (lo + hi) // 2
        if _slo_ok(r.run(_replicas(min_rep, mid) + fixed)):
            hi = mid
        else:
            lo = mid + 1
        say(f"max_replicas in [{lo}, {hi}]")

    # The peaks found the answer; the whole day decides it. Screening can be
    # pessimistic (a cold start before each window) or miss a peak, so steps 1
    # and 2 are searched again on the whole day, starting from the screened answer.
    days: dict[tuple[int, int], Evaluation] = {}

    def day_holds(lo: int, hi: int) -> bool:
        if (lo, hi) not in days:
            r.count += len(seed_list)
            sets = _replicas(lo, hi) + _queues(concurrency)
            days[lo, hi] = evaluate_all([(with_sets(sc, sets), seed_list, "full", False)], jobs)[0]
            say(f"full day: min {lo}, max {hi} replicas")
        return _slo_ok(days[lo, hi])

    day_holds(min_rep, hi)
    missed = [q for q in targets if not _queue_ok(days[min_rep, hi], q)]
    while missed and any(concurrency[q] < MAX_CONCURRENCY for q in missed):
        for q in missed:
            concurrency[q] = min(MAX_CONCURRENCY, concurrency[q] * 2)
        days.clear()
        day_holds(min_rep, hi)
        missed = [q for q in targets if not _queue_ok(days[min_rep, hi], q)]
    min_rep = smallest_holding(min_rep, lambda n: day_holds(n, MAX_REPLICAS), MAX_REPLICAS)
    hi = max(
        min_rep,
        smallest_holding(hi, lambda m: day_holds(min_rep, max(m, min_rep)), MAX_REPLICAS),
    )
    day_holds(min_rep, hi)
    answer_sets = _replicas(min_rep, hi) + _queues(concurrency)
    checked = days[min_rep, hi]

    # 3. Where the answer breaks: grow the load, then bisect the first miss.
    def holds(n: int) -> bool:
        grown = sized(with_sets(base, answer_sets), n, events, slo_p95_ms)
        ev = r.run([], grown)
        return _slo_ok(ev) and all(_queue_ok(ev, q) for q in targets)

    good, bad = attendees, None
    for factor in GROWTH:
        n = int(attendees * factor)
        say(f"load x{factor:g}")
        if holds(n):
            good = n
        else:
            bad = n
            break
    if bad is not None:
        for _ in range(2):
            mid = (good + bad) // 2
            if holds(mid):
                good = mid
            else:
                bad = mid
    return Answer(
        attendees=attendees,
        events=sc.workload.events.count,
        slo_p95_ms=slo_p95_ms,
        seeds=seed_list,
        min_replicas=min_rep,
        max_replicas=hi,
        concurrency=concurrency,
        cost_usd=checked.mean("cost_usd"),
        pod_hours=checked.mean("pod_hours"),
        breaks_at_attendees=bad,
        checked=checked,
        simulations=r.count,
    )
