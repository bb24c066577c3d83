"""Fuzz layer (hypothesis) over the slow-log file parser and the fingerprinter.

Two kinds of properties: *totality* (any text in, no exception out, the
documented shape of output) and *round trips* (a slow log rendered from
known entries parses back to exactly those entries; a statement's shape does
not depend on its literals, case or spacing).  Pure functions: no database.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from perfcore.dbopt.collect import NOT_ANALYSED, Sample, keep, own, parse_slow_log_file
from perfcore.dbopt.fingerprint import aggregate, fingerprint

IDENT = st.sampled_from(["events", "registrations", "attendees", "e", "r", "t1", "created_at"])
NUMBER = st.integers(min_value=0, max_value=10**9).map(str)
STRING = st.text(alphabet="abc xyz;-#/*", max_size=12).map(
    lambda s: "'" + s.replace("'", "''") + "'"
)
LITERAL = st.one_of(NUMBER, STRING)


@st.composite
def select(draw: st.DrawFn, literal: st.SearchStrategy[str] = LITERAL) -> str:
    """A SELECT of the advisor's kind: columns, a WHERE of comparisons and IN lists, a LIMIT."""
    table, column = draw(IDENT), draw(IDENT)
    conditions = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(IDENT)
        if draw(st.booleans()):
            conditions.append(
                f"{name} {draw(st.sampled_from(['=', '<', '>=', '<>']))} {draw(literal)}"
            )
        else:
            items = draw(st.lists(literal, min_size=1, max_size=4))
            conditions.append(f"{name} IN ({', '.join(items)})")
    return f"SELECT {column} FROM {table} WHERE {' AND '.join(conditions)} LIMIT {draw(NUMBER)}"


# ------------------------------------------------------------------ fingerprint


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_fingerprint_is_total_and_normalised(text: str) -> None:
    shape = fingerprint(text)
    assert isinstance(shape, str)
    # (An operator at either end keeps a space there: "<" gives " < "; no statement ends so.)
    assert "  " not in shape and "\n" not in shape and "\t" not in shape


@settings(max_examples=200)
@given(st.data())
def test_literals_never_change_the_shape(data: st.DataObject) -> None:
    # One template, two independent draws of its literals: the same fingerprint.
    template = data.draw(select(st.just("\0")))
    fill = [data.draw(LITERAL) for _ in range(template.count("\0"))]
    other = [data.draw(LITERAL) for _ in range(template.count("\0"))]
    a, b = template, template
    for x, y in zip(fill, other, strict=True):
        a, b = a.replace("\0", x, 1), b.replace("\0", y, 1)
    assert fingerprint(a) == fingerprint(b)


@settings(max_examples=200)
@given(select(), st.sampled_from([str.upper, str.lower, lambda s: s.replace(" ", "\n  ")]))
def test_case_and_spacing_never_change_the_shape(sql: str, change: object) -> None:
    assert callable(change)
    # Upper-casing a string literal changes a literal only; the shape must not move.
    assert fingerprint(change(sql)) == fingerprint(sql)


@settings(max_examples=200)
@given(select())
def test_fingerprint_is_idempotent(sql: str) -> None:
    once = fingerprint(sql)
    assert fingerprint(once) == once == once.strip()


@given(st.lists(st.tuples(select(), st.floats(0, 100), st.integers(0, 10**6)), max_size=20))
def test_aggregate_preserves_counts_and_orders_by_total(
    rows: list[tuple[str, float, int]],
) -> None:
    samples = [Sample(sql, None, t, t, n, 1) for sql, t, n in rows]
    stats = aggregate(samples)
    assert sum(s.count for s in stats) == len(samples)
    assert sum(s.rows_examined for s in stats) == sum(n for _, _, n in rows)
    assert [s.total_s for s in stats] == sorted((s.total_s for s in stats), reverse=True)
    assert len({s.fingerprint for s in stats}) == len(stats)


# --------------------------------------------------------------- slow-log file


ENTRY = st.tuples(
    select(),
    st.sampled_from(["platform", "shop", None]),
    st.integers(0, 10**9).map(lambda micros: f"{micros // 10**6}.{micros % 10**6:06d}"),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
)


def render(entries: list[tuple[str, str | None, str, int, int]]) -> list[str]:
    """A slow-query-log file as mariadbd writes it (header lines, use, SET timestamp, statement)."""
    lines = [
        "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-log. started with:",
        "Time\t\tId Command\tArgument",
    ]
    for sql, db, seconds, sent, examined in entries:
        lines += [
            "# Time: 261201 23:00:00",
            "# User@Host: root[root] @ localhost []",
            "# Thread_id: 7  Schema: x  QC_hit: No",
            f"# Query_time: {seconds}  Lock_time: 0.000010  Rows_sent: {sent}  Rows_examined: {examined}",
        ]
        if db is not None:
            lines.append(f"use {db};")
        lines += ["SET timestamp=1796166000;", sql.replace(" WHERE ", "\nWHERE ") + ";"]
    return [line + "\n" for line in lines]


@settings(max_examples=150)
@given(st.lists(ENTRY, max_size=8))
def test_a_rendered_slow_log_parses_back_to_its_entries(
    entries: list[tuple[str, str | None, str, int, int]],
) -> None:
    parsed = list(parse_slow_log_file(render(entries)))
    expected = []
    db = None
    for sql, entry_db, seconds, sent, examined in entries:
        db = entry_db if entry_db is not None else db  # a `use` holds until the next one
        expected.append((sql.replace(" WHERE ", "\nWHERE "), db, float(seconds), sent, examined))
    assert [(s.sql, s.db, s.total_s, s.rows_sent, s.rows_examined) for s in parsed] == expected
    assert all(keep(s.sql) and s.source == "file" for s in parsed)


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=80), max_size=30))
@example(["# Query_time: 1.2.3 Lock_time: 0 Rows_sent: 1 Rows_examined: 1", "select 1"])
def test_the_slow_log_parser_is_total(lines: list[str]) -> None:
    # Any text: every entry is analysable or listed with a reason, never an exception.
    for sample in parse_slow_log_file(line + "\n" for line in lines):
        assert not own(sample.sql) and sample.sql.strip()
        assert keep(sample.sql) or sample.skipped
        assert sample.total_s >= 0 and sample.rows_examined >= 0


def test_an_unreadable_query_time_skips_that_entry_with_a_reason() -> None:
    lines = [
        "# Query_time: 1.2.3  Lock_time: 0  Rows_sent: 1  Rows_examined: 1",
        "SELECT a FROM t WHERE b = 1;",
        "# Query_time: 0.5  Lock_time: 0  Rows_sent: 1  Rows_examined: 9",
        "SELECT a FROM t WHERE b = 2;",
    ]
    bad, good = parse_slow_log_file(line + "\n" for line in lines)
    assert bad.skipped == "Query_time '1.2.3' is not a number" and bad.total_s == 0
    assert good.skipped is None and good.total_s == 0.5
    # The readable entry of the same shape is analysed; the bad one is listed on its own.
    stats = aggregate([bad, good])
    assert [(s.count, s.skipped) for s in stats] == [(1, None), (1, bad.skipped)]


@settings(max_examples=300)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="."), max_size=80),
        max_size=30,
    )
)
def test_the_slow_log_parser_is_total_without_dotted_numbers(lines: list[str]) -> None:
    # Without dotted numbers no header is unreadable: only the verb decides what is skipped.
    for sample in parse_slow_log_file(line + "\n" for line in lines):
        assert (sample.skipped is None) == keep(sample.sql)
        assert sample.skipped in (None, NOT_ANALYSED) and sample.total_s >= 0
