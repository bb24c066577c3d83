"""What-if verification: does the planner use a candidate, and how much cheaper does it get?

As Dexter does with hypothetical indexes: plan every statement, add every
candidate at once, plan again, and keep a candidate only if some statement's
plan uses it *and* that statement's estimated cost falls by at least
``min_savings_pct``.  MySQL 8 has no hypothetical indexes but has invisible
ones: candidates are built ``INVISIBLE`` and only this session sees them
(``optimizer_switch='use_invisible_indexes=on'``), so production plans do not
change during the experiment.  MariaDB builds them visible; every candidate
the verification does not keep is dropped again, also on errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from perfcore.dbopt.apply import create_index, drop_index, ignored_sql
from perfcore.dbopt.candidates import Analysed, Candidate
from perfcore.dbopt.forward import MarginalSaving, forward
from perfcore.dbopt.planner import Flavour, Plan, PlanError, explain
from perfcore.dbopt.schema import Catalog
from perfcore.dbopt.session import Session


@dataclass
class Verdict:
    candidate: Candidate
    accepted: bool = False
    reason: str = ""
    # fingerprint -> (cost before, cost after) for statements whose plan uses the index
    serves: dict[str, tuple[float, float]] = field(default_factory=dict)
    benefit_s: float = 0.0  # slow time saved per log window, estimated

    @property
    def score(self) -> float:
        """Aggregate time saved (frequency x time x saving), the ranking key; size breaks ties."""
        return self.benefit_s


def plan_all(
    session: Session, analysed: Sequence[Analysed], errors: dict[str, str] | None = None
) -> dict[str, Plan]:
    """Plan every statement; one the server refuses is left out (its reason in ``errors``)."""
    plans = {}
    for stats, analysis in analysed:
        try:
            plans[stats.fingerprint] = explain(session, analysis.explain_sql)
        except PlanError as exc:
            if errors is not None:
                errors[stats.fingerprint] = str(exc)
    return plans


@contextmanager
def invisible_visible(session: Session, flavour: Flavour) -> Iterator[None]:
    """Let this session's planner see invisible indexes (MySQL 8), and restore afterwards."""
    if not flavour.has_invisible_indexes:
        yield
        return
    session.run("SET SESSION optimizer_switch = 'use_invisible_indexes=on'")
    try:
        yield
    finally:
        session.run("SET SESSION optimizer_switch = 'use_invisible_indexes=off'")


def judge(
    candidates: Sequence[Candidate],
    analysed: Sequence[Analysed],
    before: dict[str, Plan],
    after: dict[str, Plan],
    min_savings_pct: float,
) -> list[Verdict]:
    """Pure: which candidates the 'after' plans use, and whether the saving is large enough."""
    totals = {stats.fingerprint: stats.total_s for stats, _ in analysed}
    verdicts = []
    for candidate in candidates:
        verdict = Verdict(candidate)
        for fingerprint, plan in after.items():
            if candidate.name not in plan.keys or fingerprint not in before:
                continue
            cost_before, cost_after = before[fingerprint].cost_measure(plan)
            verdict.serves[fingerprint] = (cost_before, cost_after)
            saving = 1 - cost_after / cost_before if cost_before > 0 else 0.0
            if saving * 100 >= min_savings_pct:
                verdict.benefit_s += totals.get(fingerprint, 0.0) * saving
        if not verdict.serves:
            verdict.reason = "the planner does not use it"
        elif verdict.benefit_s <= 0:
            verdict.reason = f"saves less than {min_savings_pct:g}% of the estimated cost"
        else:
            verdict.accepted, verdict.reason = True, "used by the planner"
        verdicts.append(verdict)
    return verdicts


def choose(verdicts: Sequence[Verdict], top: int) -> list[Verdict]:
    """The accepted verdicts with the best benefit per size, at most ``top``."""
    accepted = [v for v in verdicts if v.accepted]
    accepted.sort(key=lambda v: (-v.score, v.candidate.size_bytes, v.candidate.name))
    return accepted[:top]


@dataclass
class WhatIf:
    before: dict[str, Plan]
    verdicts: list[Verdict]
    chosen: list[Verdict]
    after: dict[str, Plan]  # plans with only the chosen indexes
    built: list[Candidate]  # chosen candidates still present on the server
    ranked: list[Verdict] = field(default_factory=list)  # chosen first, then the other accepted


def what_if(
    session: Session,
    flavour: Flavour,
    catalog: Catalog,
    candidates: Sequence[Candidate],
    analysed: Sequence[Analysed],
    *,
    min_savings_pct: float,
    top: int,
    lock_wait_timeout_s: int,
    prune_cost_factor: float = 1.0,
    before: dict[str, Plan] | None = None,
    forward_selection: bool = True,
) -> WhatIf:
    """Build, plan, judge, and drop everything except the chosen candidates.

    The choice is by forward selection on MariaDB 10.6+ (unless
    ``forward_selection`` is off, as for the greedy baseline), else the top
    ``top`` by their all-at-once saving.

    Then prune: a chosen index whose statements keep their savings (and stay
    within ``prune_cost_factor`` of their planned cost) when the planner cannot
    use it is dropped too, so overlapping indexes do not all stay.
    """
    rules = PruneRules(min_savings_pct, prune_cost_factor, lock_wait_timeout_s)
    if before is None:
        before = plan_all(session, analysed)
    present: list[Candidate] = []  # built by this run and not dropped yet
    failures: dict[str, str] = {}
    try:
        for candidate in candidates:
            problem = create_index(session, flavour, catalog, candidate, lock_wait_timeout_s)
            if problem is None:
                present.append(candidate)
            else:
                failures[candidate.name] = problem
        with invisible_visible(session, flavour):
            trial = plan_all(session, analysed)
        verdicts = judge(candidates, analysed, before, trial, min_savings_pct)
        for verdict in verdicts:
            if verdict.candidate.name in failures:
                verdict.accepted, verdict.reason = False, failures[verdict.candidate.name]
        if forward_selection and flavour.has_ignored_indexes:
            chosen = _forward(session, catalog, present, verdicts, analysed, before, top,
                              min_savings_pct)  # fmt: skip
        else:  # MySQL cannot hide an index without dropping it: rank the all-at-once savings
            chosen = choose(verdicts, top)
        keep = {v.candidate.name for v in chosen}
        ranked = chosen + [v for v in choose(verdicts, 10**6) if v.candidate.name not in keep]
        for verdict in verdicts:
            if verdict.accepted and verdict.candidate.name not in keep:
                verdict.reason = (
                    f"beyond the top {top}"
                    if len(chosen) >= top
                    else "saves too little once the chosen indexes exist"
                )
        for candidate in list(present):
            if candidate.name not in keep:
                drop_index(session, catalog, candidate)
                present.remove(candidate)
        with invisible_visible(session, flavour):
            after = plan_all(session, analysed)
            for verdict in prune_order(chosen):
                if _redundant(session, flavour, catalog, verdict, analysed, before, after, rules):
                    drop_index(session, catalog, verdict.candidate)
                    present.remove(verdict.candidate)
                    chosen.remove(verdict)
                    verdict.reason = "redundant: the other chosen indexes serve its statements"
    except BaseException:
        for candidate in present:
            drop_index(session, catalog, candidate)
        raise
    ranked = [v for v in ranked if not v.reason.startswith("redundant")]
    return WhatIf(before, verdicts, chosen, after, present, ranked)


def _forward(
    session: Session,
    catalog: Catalog,
    present: Sequence[Candidate],
    verdicts: Sequence[Verdict],
    analysed: Sequence[Analysed],
    before: dict[str, Plan],
    top: int,
    min_savings_pct: float,
) -> list[Verdict]:
    """The chosen verdicts by forward selection (:mod:`perfcore.dbopt.forward`), in order.

    Every built candidate takes part, also one the all-at-once plans never
    used (another candidate shadowed it there).
    """
    by_name = {v.candidate.name: v for v in verdicts}
    saving = MarginalSaving(session, catalog, present, analysed, before, plan_all,
                            min_savings_pct)  # fmt: skip
    picked = forward([c.name for c in present], saving, top)
    saving.finish([name for name, _ in picked])
    chosen = []
    for name, seconds in picked:
        verdict = by_name[name]
        verdict.accepted, verdict.reason, verdict.benefit_s = True, "used by the planner", seconds
        verdict.serves = {
            fp: before[fp].cost_measure(plan)
            for fp, plan in saving.plans_with[name].items()
            if name in plan.keys
        }
        chosen.append(verdict)
    return chosen


@dataclass(frozen=True)
class PruneRules:
    min_savings_pct: float
    cost_factor: float
    lock_wait_timeout_s: int


def prune_order(chosen: Sequence[Verdict]) -> list[Verdict]:
    """Least valuable first: the index most likely to be covered by the others."""
    return sorted(chosen, key=lambda v: (v.score, v.candidate.name))


def still_good(before: Plan, with_index: Plan, without: Plan, rules: PruneRules) -> bool:
    """Pure: does a statement keep its saving and stay near its cost without the index?"""
    cost_before, cost_without = before.cost_measure(without)
    _, cost_with = before.cost_measure(with_index)
    saving = 1 - cost_without / cost_before if cost_before > 0 else 0.0
    return saving * 100 >= rules.min_savings_pct and cost_without <= cost_with * rules.cost_factor


def _redundant(
    session: Session,
    flavour: Flavour,
    catalog: Catalog,
    verdict: Verdict,
    analysed: Sequence[Analysed],
    before: dict[str, Plan],
    after: dict[str, Plan],
    rules: PruneRules,
) -> bool:
    """Plan the statements an index serves while the planner ignores it; restore it if needed."""
    if rules.cost_factor <= 1.0:
        return False
    candidate = verdict.candidate
    served = [
        (s, a)
        for s, a in analysed
        if s.fingerprint in after and candidate.name in after[s.fingerprint].keys
    ]
    if not served:
        return True
    if flavour.has_ignored_indexes:
        session.run(ignored_sql(catalog, candidate, ignored=True))
        trial = plan_all(session, served)
        session.run(ignored_sql(catalog, candidate, ignored=False))
    else:
        # MySQL's candidates are already invisible: drop it, plan, and rebuild if it is needed.
        drop_index(session, catalog, candidate)
        trial = plan_all(session, served)
        create_index(session, flavour, catalog, candidate, rules.lock_wait_timeout_s)
    good = len(trial) == len(served) and all(
        still_good(before[fp], after[fp], plan, rules) for fp, plan in trial.items()
    )
    if good:
        after.update(trial)
    return good
