"""Fingerprints fold literals, IN lists, comments, case and spacing; aggregation sums per shape."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from perfcore.dbopt.collect import Sample
from perfcore.dbopt.fingerprint import aggregate, fingerprint


def test_literals_in_lists_limit_and_backquotes_fold() -> None:
    a = fingerprint("SELECT * FROM `events` WHERE id = 7 AND city IN ('a', 'b', 'c') LIMIT 10, 20")
    b = fingerprint("select *\n from events  where id=8 and city in ('x') limit 0,5 -- trailing")
    assert a == b == "select * from events where id = ? and city in (?+) limit ?, ?"


def test_comments_and_strings_with_quotes_do_not_leak() -> None:
    text = "SELECT /* hint */ title FROM events WHERE title = 'it''s; DROP TABLE x' # note"
    assert fingerprint(text) == "select title from events where title = ?"


def test_identifiers_with_digits_survive() -> None:
    assert fingerprint("SELECT col1 FROM t2 WHERE x3 > 4.5e3") == "select col1 from t2 where x3 > ?"


@given(st.integers(min_value=0, max_value=10**12), st.text(alphabet="abcxyz ;-", max_size=20))
def test_literal_values_never_change_the_fingerprint(number: int, text: str) -> None:
    escaped = text.replace("'", "''")
    base = fingerprint("SELECT a FROM t WHERE b = 1 AND c = 'z'")
    assert fingerprint(f"SELECT a FROM t WHERE b = {number} AND c = '{escaped}'") == base


@given(st.text(max_size=60))
def test_fingerprint_is_idempotent(text: str) -> None:
    once = fingerprint(text)
    assert fingerprint(once) == once


def test_aggregate_sums_per_shape_and_keeps_the_slowest_sample() -> None:
    samples = [
        Sample("SELECT * FROM t WHERE id = 1", "db", 0.5, 0.5, 100, 1),
        Sample("SELECT * FROM t WHERE id = 2", "db", 1.5, 1.5, 300, 1),
        Sample("SELECT * FROM u", "db", 0.1, 0.1, 10, 10),
    ]
    stats = aggregate(samples)
    assert [s.fingerprint for s in stats] == ["select * from t where id = ?", "select * from u"]
    top = stats[0]
    assert (top.count, top.total_s, top.max_s, top.rows_examined) == (2, 2.0, 1.5, 400)
    assert top.mean_s == 1.0
    assert top.sample.endswith("id = 2")
