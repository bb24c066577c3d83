"""Forward selection: the next index is the one that saves most, given the indexes already chosen.

Ranking candidates by their saving in the all-at-once what-if credits
overlapping candidates twice and shadowed ones never: with
``(o_custkey, o_orderdate)`` and ``(o_orderdate)`` both built, the planner
picks one for a statement and the other looks worthless, whatever it would
save on its own.  As the AutoAdmin index advisor does, candidates are
added one at a time instead.  Each step plans the statements that read a
candidate's table with only the chosen indexes and that candidate visible
(MariaDB 10.6+ ``IGNORED`` indexes: a metadata change, nothing is rebuilt)
and takes the candidate with the largest estimated saving of slow time.

A saving mostly shrinks as the chosen set grows, so a candidate's last
computed saving bounds its next one and only the best bound is planned again
(lazy greedy).  Two indexes can also help each other (both sides of a join);
a candidate whose bound fell too low to be re-planned then misses that.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from perfcore.dbopt.apply import ignored_sql
from perfcore.dbopt.candidates import Analysed, Candidate
from perfcore.dbopt.planner import Plan
from perfcore.dbopt.schema import Catalog
from perfcore.dbopt.session import Session

Saving = Callable[[str, Sequence[str]], float]  # (candidate, chosen so far) -> seconds saved


def forward(names: Sequence[str], saving: Saving, top: int) -> list[tuple[str, float]]:
    """Pure: at most ``top`` of ``names`` in the order chosen, each with the saving it added."""
    chosen: list[str] = []
    picked: list[tuple[str, float]] = []
    # (-saving, tie-break, name, size of the chosen set the saving was computed with)
    bounds = [(-saving(name, chosen), i, name, 0) for i, name in enumerate(names)]
    heapq.heapify(bounds)
    while bounds and len(chosen) < top:
        negative, i, name, computed_with = heapq.heappop(bounds)
        if -negative <= 0.0:
            break
        if computed_with == len(chosen):
            chosen.append(name)
            picked.append((name, -negative))
        else:
            heapq.heappush(bounds, (-saving(name, chosen), i, name, len(chosen)))
    return picked


class MarginalSaving:
    """The estimated slow time a candidate saves on top of the chosen ones, planned on the server.

    Every candidate is built and starts ``IGNORED``; a chosen one stays
    visible.  A statement's estimated time is its slow time (``total_s``)
    scaled by its planned cost relative to the cost with no candidate.  As in
    the all-at-once judgement, a statement counts only when the candidate
    cuts its current cost by ``min_savings_pct``.  ``plans_with[name]`` keeps
    the plans of the candidate's last evaluation.
    """

    def __init__(
        self,
        session: Session,
        catalog: Catalog,
        candidates: Sequence[Candidate],
        analysed: Sequence[Analysed],
        before: dict[str, Plan],
        plan_all: Callable[[Session, Sequence[Analysed]], dict[str, Plan]],
        min_savings_pct: float,
    ) -> None:
        self.session, self.catalog, self.before, self.plan_all = session, catalog, before, plan_all
        self.min_share = min_savings_pct / 100
        self.by_name = {c.name: c for c in candidates}
        self.reading = {
            c.name: [(s, a) for s, a in analysed
                     if s.fingerprint in before and any(u.table == c.table for u in a.usages)]
            for c in candidates
        }  # fmt: skip
        self.totals = {s.fingerprint: s.total_s for s, _ in analysed}
        self.ratio = dict.fromkeys(before, 1.0)  # estimated cost / cost with no candidate
        self.plans_with: dict[str, dict[str, Plan]] = {}
        self.applied = 0
        for candidate in candidates:
            session.run(ignored_sql(catalog, candidate, ignored=True))

    def _ratio(self, fingerprint: str, plan: Plan) -> float:
        cost_before, cost = self.before[fingerprint].cost_measure(plan)
        return min(cost / cost_before, 1.0) if cost_before > 0 else 1.0

    def _visible(self, name: str, visible: bool) -> None:
        self.session.run(ignored_sql(self.catalog, self.by_name[name], ignored=not visible))

    def __call__(self, name: str, chosen: Sequence[str]) -> float:
        for newly in chosen[self.applied :]:  # chosen since the last call: they stay visible
            self._visible(newly, True)
            for fingerprint, plan in self.plans_with[newly].items():
                self.ratio[fingerprint] = min(
                    self.ratio[fingerprint], self._ratio(fingerprint, plan)
                )
        self.applied = len(chosen)
        self._visible(name, True)
        try:
            plans = self.plan_all(self.session, self.reading[name])
        finally:
            self._visible(name, False)
        self.plans_with[name] = plans
        saved = 0.0
        for fp, plan in plans.items():
            now, then = self._ratio(fp, plan), self.ratio[fp]
            if name in plan.keys and then - now >= self.min_share * then:
                saved += self.totals.get(fp, 0.0) * (then - now)
        return saved

    def finish(self, chosen: Sequence[str]) -> None:
        """Leave exactly the chosen candidates visible."""
        for newly in chosen[self.applied :]:
            self._visible(newly, True)
        self.applied = len(chosen)
