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
    after: Latencies = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # index name -> reason


def verify(
    index_names: Sequence[str],
    plans: Callable[[], dict[str, Plan]],
    measure: Callable[[set[str]], Latencies],
    drop: Callable[[str], None],
    before: Latencies,
    max_slowdown: float,
) -> Outcome:
    """Time the statements the present indexes serve; drop regressing or unused indexes; repeat.

    ``plans`` plans every statement with the indexes present, ``measure``
    times the given fingerprints, ``drop`` removes one index.  The loop ends
    when no statement regresses (at most once per index).
    """
    outcome = Outcome()
    present = list(index_names)
    served: set[str] = set()
    measured: set[str] = set()
    for _ in range(len(present) + 1):
        current = plans()
        users = {name: {fp for fp, p in current.items() if name in p.keys} for name in present}
        for name in [n for n in present if not users[n]]:
            drop(name)
            present.remove(name)
            outcome.dropped[name] = "unused: no statement's plan uses it"
        served = {fp for fps in users.values() for fp in fps}
        outcome.after.update(measure(served))
        measured |= served
        slower = regressions(before, {fp: outcome.after.get(fp) for fp in served}, max_slowdown)
        if not slower:
            break
        for regression in slower:
            for name in [n for n in present if regression.fingerprint in users[n]]:
                drop(name)
                present.remove(name)
                outcome.dropped[name] = (
                    f"measured {regression.factor:.2f}x slower: {regression.fingerprint[:80]}"
                    f" ({regression.before_ms:.1f} ms -> {regression.after_ms:.1f} ms)"
                )
    # Statements whose indexes were all dropped run as before: time them once more so
    # the report shows the final state, not the regressed one.
    remaining = {fp for fp, p in plans().items() if p.keys & set(present)}
    stale = measured - remaining
    if stale:
        outcome.after.update(measure(stale))
    return outcome
