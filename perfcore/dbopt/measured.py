"""Verification by measurement: an index stays only if the statements it serves got no slower.

The planner's cost is an estimate; a chosen index can lower it and still make
the statement slower (a rowid-filter plan, a range that reads half the
table through a secondary index).  As Azure SQL's automatic tuning does,
the advisor times each statement before any candidate exists and again with
the chosen indexes (read-only, time-limited, the median of several runs),
and drops every index whose statements got ``max_slowdown`` times slower,
then times again, until no statement regresses.  Only statements
:mod:`perfcore.dbopt.analyze` regenerated as read-only SELECTs are timed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from perfcore.dbopt.candidates import Analysed
from perfcore.dbopt.planner import Flavour, Plan, measure_ms
from perfcore.dbopt.session import Session

Latencies = dict[str, float | None]


def median_ms(
    session: Session, flavour: Flavour, select_sql: str, runs: int, timeout_s: float
) -> float | None:
    """The median of ``runs`` timed executions (None when any of them was cut short)."""
    times = []
    for _ in range(runs):
        elapsed = measure_ms(session, flavour, select_sql, timeout_s)
        if elapsed is None:
            return None
        times.append(elapsed)
    return statistics.median(times)


def measure_all(
    session: Session,
    flavour: Flavour,
    analysed: Sequence[Analysed],
    runs: int,
    timeout_s: float,
    only: set[str] | None = None,
) -> Latencies:
    """Median latency per fingerprint (all statements, or the ``only`` ones)."""
    return {
        stats.fingerprint: median_ms(session, flavour, analysis.explain_sql, runs, timeout_s)
        for stats, analysis in analysed
        if only is None or stats.fingerprint in only
    }


@dataclass(frozen=True)
class Regression:
    fingerprint: str
    before_ms: float
    after_ms: float

    @property
    def factor(self) -> float:
        return self.after_ms / max(self.before_ms, 1e-6)


def regressions(before: Latencies, after: Latencies, max_slowdown: float) -> list[Regression]:
    """Pure: statements measured both times whose latency grew by ``max_slowdown`` or more."""
    found = []
    for fingerprint, after_ms in after.items():
        before_ms = before.get(fingerprint)
        if before_ms is None or after_ms is None:
            continue
        # Sub-millisecond statements jitter by more than 25 % on a busy machine.
        if after_ms >= before_ms * max_slowdown and after_ms - before_ms >= 0.5:
            found.append(Regression(fingerprint, before_ms, after_ms))
    return found


@dataclass
class Outcome:
    kept: list[str] = field(default_factory=list)  # index names present at the end, by rank
    after: Latencies = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # index name -> why it is not kept


@dataclass
class Actions:
    """What :func:`verify` may do on the server (callables, so the loop stays pure)."""

    plans: Callable[[], dict[str, Plan]]  # plan every statement with the present indexes
    measure: Callable[[set[str]], Latencies]  # time these fingerprints
    build: Callable[[str], bool]  # build one candidate; False if the server refused
    drop: Callable[[str], None]  # drop one index
    # Time one statement with and without these indexes, interleaved: (with, without) medians.
    # None where the server cannot hide an index without dropping it (MySQL).
    paired: Callable[[str, list[str]], tuple[Latency, Latency] | None] = lambda fp, names: None


Latency = float | None


def confirmed(paired: tuple[Latency, Latency] | None, max_slowdown: float) -> bool:
    """Pure: does an interleaved A/B re-timing confirm the regression the first timing saw?

    The first timing compares against latencies taken minutes earlier, under whatever other
    load the machine had then; the A/B pair is taken side by side.  No pair (MySQL): the
    first timing stands.  Cut short with the indexes: confirmed; without them: not.
    """
    if paired is None:
        return True
    with_ms, without_ms = paired
    if with_ms is None or without_ms is None:
        return without_ms is not None
    return with_ms >= without_ms * max_slowdown and with_ms - without_ms >= 0.5


@dataclass(frozen=True)
class Rules:
    max_slowdown: float  # a served statement this many times slower drops the index
    weights: dict[str, float]  # fingerprint -> executions in the log window
    min_gain_share: float = 0.0  # an index must save this share of the measured workload
    # index -> the narrower candidate (its leading column) that gets its slot when it regresses
    fallbacks: dict[str, str] = field(default_factory=dict)


def weak(
    users: dict[str, set[str]], before: Latencies, after: Latencies, rules: Rules
) -> dict[str, float]:
    """Pure: indexes whose measured saving (executions x ms) is below the share; name -> saving.

    The share is of the workload as it runs with the chosen indexes (``after``,
    else ``before``), not as it ran without any: the unindexed total is mostly
    time the chosen indexes remove, and against it a lookup's real saving
    (10 x 5 ms, 2 % of what remains) looks negligible.  The saving is net:
    a statement an index's plan made slower counts against it (a 1.2x slower
    scan of the largest table can cost more than the index saves elsewhere,
    and stays under the regression threshold).
    """
    total = sum(
        rules.weights.get(fp, 1.0) * (now if (now := after.get(fp)) is not None else (ms or 0.0))
        for fp, ms in before.items()
    )
    found = {}
    for name, fingerprints in users.items():
        saving = sum(
            rules.weights.get(fp, 1.0) * ((before.get(fp) or 0.0) - (after.get(fp) or 0.0))
            for fp in fingerprints
            if after.get(fp) is not None
        )
        if saving < rules.min_gain_share * total:
            found[name] = saving
    return found


def verify(
    present: Sequence[str],
    ranked: Sequence[str],
    top: int,
    actions: Actions,
    before: Latencies,
    before_plans: dict[str, Plan],
    rules: Rules,
    max_rounds: int = 6,
) -> Outcome:
    """A bounded local search for a set of at most ``top`` indexes under which nothing regresses.

    Each round plans every statement and times those whose plan changed; an
    index nothing uses is dropped, and for each statement that got
    ``max_slowdown`` times slower the lowest-ranked index its plan uses is
    dropped.  Freed slots are refilled from ``ranked`` (the accepted candidates,
    best first), and an index dropped for a regression gets one more try once
    the set has changed (the plan that regressed may not be chosen any more).
    An index that saves less than ``rules.min_gain_share`` of the measured
    workload goes too, so its slot can go to a better one.  An index dropped
    for a regression hands its rank to its fallback in ``rules.fallbacks``
    (e.g. ``(o_custkey)`` for ``(o_custkey, o_orderdate)``): the statements it
    was chosen for still deserve an index, and the narrower one may serve them
    without the plan that regressed; it is verified like any other.
    Ends when a round changes nothing, or after ``max_rounds``.  A statement
    whose plan is the one it had before (``before_plans``) is not timed again.
    """
    ranked = _with_fallbacks(ranked, rules.fallbacks)
    order = {name: rank for rank, name in enumerate(ranked)}
    regressed: set[str] = set()  # dropped for a regression: their fallbacks may take the slot
    cleared: dict[str, frozenset[str]] = {}  # statement -> the plan an A/B re-timing cleared
    current = sorted(present, key=lambda n: order.get(n, len(order)))
    outcome = Outcome()
    timed = {fp: (plan.keys, before.get(fp)) for fp, plan in before_plans.items()}
    strikes: dict[str, int] = {}
    left_behind: dict[str, frozenset[str]] = {}  # the set an index left when it regressed
    for round_number in range(max_rounds):
        plans = actions.plans()
        users = {n: {fp for fp, p in plans.items() if n in p.keys} for n in current}
        changed = False
        for name in [n for n in current if not users[n]]:
            actions.drop(name)
            current.remove(name)
            strikes[name] = 2  # unused: no second try
            outcome.dropped[name] = "unused: no statement's plan uses it"
            changed = True
        stale = {
            fp
            for fp, p in plans.items()
            if fp in before and (fp not in timed or timed[fp][0] != p.keys)
        }
        for fp, latency in actions.measure(stale).items():
            timed[fp] = (plans[fp].keys, latency)
        slower = regressions(before, {fp: t[1] for fp, t in timed.items()}, rules.max_slowdown)
        dropped_now: set[str] = set()
        for regression in slower:
            culprits = [n for n in current if regression.fingerprint in users.get(n, set())]
            if not culprits:
                continue
            keys = plans[regression.fingerprint].keys
            if cleared.get(regression.fingerprint) == keys:
                continue
            pair = actions.paired(regression.fingerprint, culprits)
            if not confirmed(pair, rules.max_slowdown):
                # Not slower side by side: load on the machine, not the index.
                cleared[regression.fingerprint] = keys
                if pair is not None and pair[0] is not None:
                    timed[regression.fingerprint] = (keys, pair[0])
                continue
            name = culprits[-1]  # the lowest-ranked of the indexes its plan uses
            actions.drop(name)
            current.remove(name)
            dropped_now.add(name)
            regressed.add(name)
            left_behind[name] = frozenset(current)
            strikes[name] = strikes.get(name, 0) + 1
            outcome.dropped[name] = (
                f"measured {regression.factor:.2f}x slower: {regression.fingerprint[:80]}"
                f" ({regression.before_ms:.1f} ms -> {regression.after_ms:.1f} ms)"
            )
            changed = True
        now = {fp: t[1] for fp, t in timed.items()}
        for name, saving in weak({n: users[n] for n in current}, before, now, rules).items():
            actions.drop(name)
            current.remove(name)
            strikes[name] = 2
            dropped_now.add(name)
            outcome.dropped[name] = (
                f"measured saving {saving:.1f} ms per log window is under"
                f" {rules.min_gain_share:.1%} of the workload"
                if saving >= 0
                else f"measured net loss: the statements it serves take {-saving:.1f} ms"
                " longer per log window"
            )
            changed = True
        last = round_number == max_rounds - 1  # nothing built now could be verified
        freed = {child for parent, child in rules.fallbacks.items() if parent in regressed}
        waiting = set(rules.fallbacks.values()) - freed
        for name in [n for n in ranked if n not in current and strikes.get(n, 0) < 2]:
            if name in waiting:
                continue  # a fallback only once the index it stands in for has regressed
            if len(current) >= top or last:
                break
            if name in dropped_now or left_behind.get(name) == frozenset(current):
                continue  # a second try only makes sense once the set has changed
            if actions.build(name):
                current.append(name)
                outcome.dropped.pop(name, None)
                changed = True
            else:
                strikes[name] = 2
                outcome.dropped[name] = "the server refused to build it"
        current.sort(key=lambda n: order.get(n, len(order)))
        if not changed:
            break
    final = actions.plans()
    outcome.kept = list(current)
    outcome.after = {fp: latency for fp, (keys, latency) in timed.items() if final[fp].keys == keys}
    missing = {fp for fp in final if fp in before and fp not in outcome.after}
    outcome.after.update(actions.measure(missing) if missing else {})
    return outcome


def _with_fallbacks(ranked: Sequence[str], fallbacks: dict[str, str]) -> list[str]:
    """``ranked`` with each fallback placed right behind the index it stands in for."""
    placed: list[str] = []
    for name in ranked:
        if name not in placed:
            placed.append(name)
        child = fallbacks.get(name)
        if child is not None and child not in placed and child not in ranked:
            placed.append(child)
    return placed
