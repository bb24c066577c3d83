"""Verification by measurement: regressing and unused indexes are dropped, the rest stay."""

from __future__ import annotations

from perfcore.dbopt.measured import Latencies, regressions, verify
from perfcore.dbopt.planner import Plan


def test_regressions_need_the_factor_and_a_real_difference() -> None:
    before: Latencies = {"a": 10.0, "b": 10.0, "c": 0.2, "d": None}
    after: Latencies = {"a": 12.4, "b": 12.6, "c": 0.3, "d": 99.0}
    assert [r.fingerprint for r in regressions(before, after, 1.25)] == ["b"]


def test_verify_drops_the_index_that_slows_its_statement_and_the_unused_one() -> None:
    present = {"fast", "slow", "idle"}
    uses = {"q1": "fast", "q2": "slow"}  # q3 uses no index; "idle" serves nothing
    before: Latencies = {"q1": 100.0, "q2": 10.0, "q3": 5.0}
    timed: list[set[str]] = []

    def plans() -> dict[str, Plan]:
        return {
            fp: Plan(1.0, 1.0, frozenset({index} & present) if index else frozenset())
            for fp, index in {**uses, "q3": ""}.items()
        }

    def measure(only: set[str]) -> Latencies:
        timed.append(set(only))
        speed = {"q1": 2.0, "q2": 21.0 if "slow" in present else 10.5, "q3": 5.0}
        return {fp: speed[fp] for fp in only}

    outcome = verify(["fast", "slow", "idle"], plans, measure, present.discard, before, 1.25)
    assert present == {"fast"}
    assert outcome.dropped["idle"].startswith("unused")
    assert outcome.dropped["slow"].startswith("measured 2.10x slower")
    assert outcome.after == {"q1": 2.0, "q2": 10.5}  # q2 timed again once its index was gone
    assert timed[0] == {"q1", "q2"} and {"q2"} in timed[1:]
