"""Pure verification rules: which candidates the planner's plans justify, ranking, pruning; candidate invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perfcore.dbopt.analyze import Analysis, TableUsage
from perfcore.dbopt.candidates import Candidate, propose
from perfcore.dbopt.fingerprint import QueryStats
from perfcore.dbopt.planner import Plan
from perfcore.dbopt.schema import Catalog, Column, Index, Table
from perfcore.dbopt.verify import PruneRules, choose, judge, still_good


def stats(fp: str, total: float) -> QueryStats:
    return QueryStats(fp, fp, "db", 1, total, total, 0, 0)


def candidate(table: str, *columns: str, size: int = 2**20) -> Candidate:
    return Candidate(table, columns, len(columns), (), 0.0, size)


def plan(cost: float, *keys: str, rows: float = 1.0) -> Plan:
    return Plan(cost, rows, frozenset(keys))


NO_USAGE = Analysis("select", (), "SELECT 1")


def test_judge_keeps_used_candidates_that_save_enough() -> None:
    a, b, c = candidate("t", "x"), candidate("t", "y"), candidate("u", "z")
    analysed = [(stats("q1", 10.0), NO_USAGE), (stats("q2", 4.0), NO_USAGE)]
    before = {"q1": plan(1000.0), "q2": plan(1000.0)}
    after = {"q1": plan(10.0, a.name), "q2": plan(800.0, b.name)}
    verdicts = {v.candidate.name: v for v in judge([a, b, c], analysed, before, after, 50.0)}
    assert verdicts[a.name].accepted and verdicts[a.name].benefit_s == 10.0 * 0.99
    assert not verdicts[b.name].accepted and "less than 50%" in verdicts[b.name].reason
    assert not verdicts[c.name].accepted and "does not use" in verdicts[c.name].reason


def test_costs_fall_back_to_row_estimates_when_the_server_gives_none() -> None:
    a = candidate("t", "x")
    analysed = [(stats("q", 1.0), NO_USAGE)]
    (verdict,) = judge(
        [a], analysed, {"q": plan(0.0, rows=5000)}, {"q": plan(0.0, a.name, rows=5)}, 50
    )
    assert verdict.accepted and verdict.serves["q"] == (5000, 5)


def test_choose_ranks_by_aggregate_time_saved_and_caps_at_top() -> None:
    small, big, other = (
        candidate("t", "a", size=2**20),
        candidate("t", "b", size=2**24),
        candidate("t", "c"),
    )
    analysed = [
        (stats("q1", 10.0), NO_USAGE),
        (stats("q2", 10.0), NO_USAGE),
        (stats("q3", 1.0), NO_USAGE),
    ]
    before = {q: plan(100.0) for q in ("q1", "q2", "q3")}
    after = {"q1": plan(1.0, small.name), "q2": plan(1.0, big.name), "q3": plan(1.0, other.name)}
    verdicts = judge([small, big, other], analysed, before, after, 50)
    # Time saved decides (q1 and q2 save the same: the smaller index wins the tie).
    assert [v.candidate for v in choose(verdicts, 2)] == [small, big]
    assert [v.candidate for v in choose(verdicts, 3)][-1] == other


def test_pruning_rule_needs_both_the_saving_and_the_cost_factor() -> None:
    rules = PruneRules(min_savings_pct=50, cost_factor=2.0, lock_wait_timeout_s=1)
    before, with_index = plan(1000.0), plan(10.0)
    assert still_good(before, with_index, plan(19.0), rules)
    assert not still_good(before, with_index, plan(30.0), rules)  # 3x its planned cost
    assert not still_good(plan(30.0), plan(10.0), plan(20.0), rules)  # saves only 33%


def catalog_for(columns: list[str], indexed: list[tuple[str, ...]]) -> Catalog:
    table = Table("t", 1000, "InnoDB")
    table.columns = {c: Column(c, "int", 4) for c in ["id", *columns]}
    table.indexes = {"PRIMARY": Index("PRIMARY", ("id",), True)}
    table.indexes.update({f"i{n}": Index(f"i{n}", cols, False) for n, cols in enumerate(indexed)})
    cat = Catalog("db")
    cat.tables["t"] = table
    return cat


COLUMNS = ["a", "b", "c", "d", "e", "f"]
column_lists = st.lists(st.sampled_from(COLUMNS), max_size=4, unique=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(column_lists, column_lists, column_lists, column_lists), min_size=1, max_size=5
    ),
    st.lists(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=3, unique=True), max_size=2),
    st.integers(min_value=1, max_value=4),
)
def test_candidate_invariants(
    usages: list[tuple[list[str], list[str], list[str], list[str]]],
    indexed: list[list[str]],
    max_columns: int,
) -> None:
    cat = catalog_for(COLUMNS, [tuple(i) for i in indexed])
    analysed = []
    for n, (eq, ranges, joins, order) in enumerate(usages):
        usage = TableUsage("t", equality=eq, ranges=ranges, joins=joins, order_by=order)
        analysed.append((stats(f"q{n}", 1.0), Analysis("select", (usage,), "SELECT 1")))
    found = propose(analysed, cat, max_columns)
    keys = [c.columns for c in found]
    assert len(keys) == len(set(keys))
    for c in found:
        assert 1 <= len(c.columns) <= max_columns and len(set(c.columns)) == len(c.columns)
        assert c.queries, "every candidate serves some statement"
        for other in keys:
            assert other == c.columns or other[: len(c.columns)] != c.columns, (
                "no prefix-redundant pairs"
            )
        for index in cat.tables["t"].indexes.values():
            assert index.columns[: len(c.columns)] != c.columns, (
                "an existing leftmost prefix serves it"
            )
