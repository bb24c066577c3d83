"""Forward selection of indexes: pure, with savings given as tables."""

from __future__ import annotations

from collections.abc import Sequence

from perfcore.dbopt.forward import forward

# What each candidate saves on its own, and what is left of it once another is chosen:
# A and B serve the same statements (overlap); C serves others.
ALONE = {"A": 10.0, "B": 9.0, "C": 5.0, "D": 0.0}
AFTER = {("B", "A"): 1.0, ("A", "B"): 1.5}


class Table:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, name: str, chosen: Sequence[str]) -> float:
        self.calls.append((name, tuple(chosen)))
        left = ALONE[name]
        for other in chosen:
            left = min(left, AFTER.get((name, other), left))
        return left


def test_overlapping_candidates_are_not_both_chosen_before_a_useful_one() -> None:
    assert forward(list(ALONE), Table(), top=2) == [("A", 10.0), ("C", 5.0)]
    assert forward(list(ALONE), Table(), top=3) == [("A", 10.0), ("C", 5.0), ("B", 1.0)]


def test_nothing_that_saves_nothing_is_chosen() -> None:
    assert [name for name, _ in forward(list(ALONE), Table(), top=10)] == ["A", "C", "B"]
    assert forward(["D"], Table(), top=3) == []


def test_only_the_best_bound_is_recomputed() -> None:
    saving = Table()
    forward(list(ALONE), saving, top=2)
    # Four first evaluations; with A chosen, B (bound 9) and then C (bound 5) are planned
    # again, and D (bound 0) never is.
    assert len(saving.calls) == 6
    assert ("B", ("A",)) in saving.calls and ("D", ("A",)) not in saving.calls
