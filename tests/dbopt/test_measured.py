"""Verification by measurement: regressing and unused indexes are dropped, the rest stay."""

from __future__ import annotations

import pytest

from perfcore.dbopt.measured import Actions, Latencies, Rules, confirmed, regressions, verify, weak
from perfcore.dbopt.planner import Plan


def test_regressions_need_the_factor_and_a_real_difference() -> None:
    before: Latencies = {"a": 10.0, "b": 10.0, "c": 0.2, "d": None}
    after: Latencies = {"a": 12.4, "b": 12.6, "c": 0.3, "d": 99.0}
    assert [r.fingerprint for r in regressions(before, after, 1.25)] == ["b"]


def test_verify_drops_regressions_refills_the_slots_and_retries_once_the_set_changed() -> None:
    """q2 regresses under 'wide' alone (its plan switches to it); with 'date' present it does not."""
    present: set[str] = set()
    built: list[str] = []
    before: Latencies = {"q1": 100.0, "q2": 10.0, "q3": 50.0}
    before_plans = {fp: Plan(1.0, 1.0, frozenset()) for fp in before}

    def plans() -> dict[str, Plan]:
        q2 = "date" if "date" in present else ("wide" if "wide" in present else "")
        uses = {"q1": "wide", "q2": q2, "q3": "idle" if False else ""}
        return {
            fp: Plan(1.0, 1.0, frozenset({i} & present) if i else frozenset())
            for fp, i in uses.items()
        }

    def measure(only: set[str]) -> Latencies:
        keys = plans()
        speed = {"q1": 2.0 if "wide" in present else 100.0, "q3": 50.0,
                 "q2": 21.0 if keys["q2"].keys == {"wide"} else (1.0 if "date" in present else 10.0)}  # fmt: skip
        return {fp: speed[fp] for fp in only}

    def build(name: str) -> bool:
        present.add(name)
        built.append(name)
        return name != "broken"

    actions = Actions(plans, measure, build, present.discard)
    present.update({"wide", "idle"})
    rules = Rules(1.25, {"q1": 1.0, "q2": 1.0, "q3": 1.0})
    outcome = verify(["wide", "idle"], ["wide", "idle", "broken", "date"], 2, actions, before,
                     before_plans, rules)  # fmt: skip
    # 'wide' regressed q2 and went; 'idle' served nothing; 'date' filled a slot and then
    # 'wide' came back, since q2 now takes 'date'.
    assert outcome.kept == ["wide", "date"], outcome
    assert outcome.dropped["idle"].startswith("unused")
    assert "broken" in outcome.dropped
    assert outcome.after == {"q1": 2.0, "q2": 1.0, "q3": 50.0}
    assert built.count("wide") == 1


def test_an_index_must_earn_its_slot() -> None:
    before: Latencies = {"a": 100.0, "b": 10.0}
    after: Latencies = {"a": 1.0, "b": 9.9}
    rules = Rules(1.25, {"a": 1.0, "b": 5.0}, min_gain_share=0.01)
    # With both: 1 + 5 x 9.9 = 50.5 ms; 'tiny' saves 5 x 0.1 = 0.5 ms, under 1 % of it.
    assert weak({"big": {"a"}, "tiny": {"b"}}, before, after, rules) == {"tiny": pytest.approx(0.5)}
    assert weak({"big": {"a"}, "tiny": {"b"}}, before, after, Rules(1.25, {})) == {}


def test_the_share_is_of_the_workload_with_the_indexes() -> None:
    # Unindexed 1,000 + 10 x 5 ms; indexed 10 + 10 x 0.1 ms. The lookup index saves 49 ms:
    # 4.7 % of the unindexed 1,050 ms would pass a 5 % floor only against what remains (11 ms).
    before: Latencies = {"scan": 1000.0, "lookup": 5.0}
    after: Latencies = {"scan": 10.0, "lookup": 0.1}
    rules = Rules(1.25, {"scan": 1.0, "lookup": 10.0}, min_gain_share=0.05)
    assert weak({"scan_index": {"scan"}, "lookup_index": {"lookup"}}, before, after, rules) == {}


def test_a_statement_an_index_slows_down_counts_against_its_saving() -> None:
    # 'date' saves 10 ms on the report but its plan makes the big scan 1.2x slower
    # (under the regression threshold): a net loss of 190 ms, so it goes.
    before: Latencies = {"report": 20.0, "scan": 1000.0, "lookup": 5.0}
    after: Latencies = {"report": 10.0, "scan": 1200.0, "lookup": 0.5}
    rules = Rules(1.25, {}, min_gain_share=0.001)
    found = weak({"date": {"report", "scan"}, "id": {"lookup"}}, before, after, rules)
    assert found == {"date": pytest.approx(-190.0)}


def test_a_regressing_composite_hands_its_slot_to_its_leading_column() -> None:
    """'cust_date' makes q2 slower (a join order that reads every customer); 'cust' does not."""
    present: set[str] = {"cust_date"}
    before: Latencies = {"q1": 90.0, "q2": 20.0}
    before_plans = {fp: Plan(1.0, 1.0, frozenset()) for fp in before}

    def plans() -> dict[str, Plan]:
        return {fp: Plan(1.0, 1.0, frozenset(present)) for fp in before}

    def measure(only: set[str]) -> Latencies:
        # The planner prefers the composite whenever it exists.
        speed = {"cust_date": {"q1": 1.0, "q2": 40.0}, "cust": {"q1": 2.0, "q2": 15.0}}
        chosen = "cust_date" if "cust_date" in present else "cust"
        return {fp: speed[chosen][fp] for fp in only}

    def build(name: str) -> bool:
        present.add(name)
        return True

    rules = Rules(1.25, {"q1": 1.0, "q2": 1.0}, fallbacks={"cust_date": "cust"})
    actions = Actions(plans, measure, build, present.discard)
    outcome = verify(["cust_date"], ["cust_date"], 3, actions, before, before_plans, rules)
    assert outcome.kept == ["cust"], outcome
    assert outcome.dropped["cust_date"].startswith("measured 2.00x slower")
    assert outcome.after == {"q1": 2.0, "q2": 15.0}


def test_a_fallback_waits_while_its_composite_holds() -> None:
    present: set[str] = {"cust_date"}
    before: Latencies = {"q1": 90.0}
    built: list[str] = []

    def build(name: str) -> bool:
        built.append(name)
        return True

    actions = Actions(
        lambda: {"q1": Plan(1.0, 1.0, frozenset(present))},
        lambda only: {fp: 1.0 for fp in only},
        build,
        present.discard,
    )
    rules = Rules(1.25, {"q1": 1.0}, fallbacks={"cust_date": "cust"})
    empty = {"q1": Plan(1.0, 1.0, frozenset())}
    outcome = verify(["cust_date"], ["cust_date"], 3, actions, before, empty, rules)
    assert outcome.kept == ["cust_date"] and built == []


def test_a_regression_must_hold_side_by_side() -> None:
    assert confirmed(None, 1.25)  # no A/B possible (MySQL): the first timing stands
    assert confirmed((30.0, 20.0), 1.25) and not confirmed((24.0, 20.0), 1.25)
    assert not confirmed((0.4, 0.1), 1.25)  # sub-millisecond jitter
    assert confirmed((None, 20.0), 1.25) and not confirmed((30.0, None), 1.25)


def test_a_slowdown_the_ab_pair_does_not_confirm_keeps_the_index() -> None:
    """q2 looked 3x slower (the machine was busy then); side by side it is as fast as without."""
    present: set[str] = {"wide"}
    before: Latencies = {"q1": 100.0, "q2": 10.0}
    plans = lambda: {fp: Plan(1.0, 1.0, frozenset(present)) for fp in before}  # noqa: E731
    asked: list[tuple[str, list[str]]] = []

    def paired(fingerprint: str, names: list[str]) -> tuple[float | None, float | None]:
        asked.append((fingerprint, names))
        return 10.5, 10.0

    actions = Actions(plans, lambda only: {"q1": 1.0, "q2": 30.0}, lambda n: True,
                      present.discard, paired)  # fmt: skip
    outcome = verify(["wide"], ["wide"], 2, actions, before,
                     {fp: Plan(1.0, 1.0, frozenset()) for fp in before}, Rules(1.25, {}))  # fmt: skip
    assert outcome.kept == ["wide"] and asked == [("q2", ["wide"])]
    assert outcome.after == {"q1": 1.0, "q2": 10.5}
