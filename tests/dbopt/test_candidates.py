"""Candidate keys: equality then one range/GROUP BY/ORDER BY, capped, deduplicated, non-redundant."""

from __future__ import annotations

from perfcore.dbopt.analyze import analyze
from perfcore.dbopt.candidates import naive, propose
from perfcore.dbopt.collect import Sample
from perfcore.dbopt.fingerprint import aggregate
from perfcore.dbopt.schema import Catalog, Column, Index, Table


def catalog() -> Catalog:
    def table(
        name: str, columns: dict[str, str], indexes: list[Index], rows: int = 100_000
    ) -> Table:
        t = Table(name, rows, "InnoDB")
        t.columns = {c: Column(c, kind, 8) for c, kind in columns.items()}
        t.indexes = {i.name: i for i in indexes}
        return t

    pk = Index("PRIMARY", ("id",), True)
    cat = Catalog("db")
    cat.tables["registrations"] = table(
        "registrations",
        {"id": "bigint", "event_id": "int", "attendee_id": "int", "status": "varchar",
         "ticket": "varchar", "registered_at": "datetime", "note": "text", "a": "int", "b": "int"},
        [pk, Index("ix_ticket_status", ("ticket", "status"), False)],
    )  # fmt: skip
    cat.tables["events"] = table("events", {"id": "int", "city": "varchar"}, [pk])
    return cat


def run(*sqls: str, max_columns: int = 4) -> list[tuple[str, tuple[str, ...]]]:
    cat = catalog()
    stats = aggregate(Sample(sql, "db", 1.0, 1.0, 1, 1) for sql in sqls)
    analysed = [(s, analyze(s.sample, cat.columns_of())) for s in stats]
    return [(c.table, c.columns) for c in propose(analysed, cat, max_columns)]


def test_equality_then_range_group_or_order() -> None:
    found = run(
        "SELECT * FROM registrations WHERE event_id = 1 AND status = 'x' AND registered_at > '2026-01-01'"
    )
    # The composite first; the range column alone as well, so it can lead an index too.
    assert found == [
        ("registrations", ("event_id", "status", "registered_at")),
        ("registrations", ("registered_at",)),
    ]


def test_order_by_extends_the_equality_prefix_and_absorbs_it() -> None:
    found = run(
        "SELECT * FROM registrations WHERE attendee_id = 1 ORDER BY registered_at DESC LIMIT 5"
    )
    # (attendee_id) alone is a prefix of (attendee_id, registered_at): only the longer one stays.
    assert found == [("registrations", ("attendee_id", "registered_at"))]


def test_at_most_max_columns_and_never_text_columns() -> None:
    found = run(
        "SELECT * FROM registrations WHERE a = 1 AND b = 2 AND event_id = 3 AND attendee_id = 4"
        " AND note = 'x' AND status = 'y'",
        max_columns=4,
    )
    assert found == [("registrations", ("a", "b", "event_id", "attendee_id"))]


def test_existing_leftmost_prefix_and_unique_keys_are_skipped() -> None:
    # (status, ticket) as equalities is served by ix_ticket_status (order of '=' parts is free).
    assert run("SELECT * FROM registrations WHERE status = 'a' AND ticket = 'b'") == []
    # ticket alone: the leftmost column of ix_ticket_status.
    assert run("SELECT * FROM registrations WHERE ticket = 'b'") == []
    # id = ... is a primary-key lookup already.
    assert run("SELECT * FROM registrations WHERE id = 5 AND status = 'a'") == []


def test_join_columns_act_as_equalities_with_a_literal_only_variant() -> None:
    found = run(
        "SELECT * FROM registrations r JOIN events e ON e.id = r.event_id WHERE r.status = 'a'"
        " AND e.city = 'x'"
    )
    assert ("registrations", ("status", "event_id")) in found
    assert ("events", ("city",)) in found
    # events.id = r.event_id is the primary key: nothing to add for it.
    assert all(columns != ("id",) for _, columns in found)


def test_the_same_key_from_two_statements_serves_both() -> None:
    cat = catalog()
    sqls = [
        "SELECT * FROM registrations WHERE event_id = 1 ORDER BY registered_at",
        "SELECT COUNT(*) FROM registrations WHERE event_id = 2 AND registered_at > '2026-01-01'",
    ]
    stats = aggregate(Sample(sql, "db", 1.0, 1.0, 1, 1) for sql in sqls)
    analysed = [(s, analyze(s.sample, cat.columns_of())) for s in stats]
    found = propose(analysed, cat, 4)
    (only,) = [c for c in found if c.columns[0] == "event_id"]
    assert only.columns == ("event_id", "registered_at")
    assert len(only.queries) == 2 and only.weight_s == 2.0


def test_primary_key_columns_never_sit_in_the_middle() -> None:
    cat = catalog()
    cat.tables["lines"] = Table("lines", 100_000, "InnoDB")
    cat.tables["lines"].columns = {
        c: Column(c, "int", 4) for c in ("orderkey", "linenumber", "shipmode", "receiptdate")
    }
    cat.tables["lines"].indexes = {"PRIMARY": Index("PRIMARY", ("orderkey", "linenumber"), True)}
    sql = (
        "SELECT * FROM lines l JOIN registrations r ON r.id = l.orderkey"
        " WHERE l.shipmode = 'AIR' AND l.receiptdate > '1994-01-01'"
    )
    stats = aggregate([Sample(sql, "db", 1.0, 1.0, 1, 1)])
    analysed = [(s, analyze(s.sample, cat.columns_of())) for s in stats]
    keys = [c.columns for c in propose(analysed, cat, 4) if c.table == "lines"]
    assert ("shipmode", "receiptdate") in keys
    assert all("orderkey" not in key for key in keys), keys  # InnoDB appends it anyway


def test_tables_below_the_row_floor_get_no_candidates() -> None:
    cat = catalog()
    cat.tables["events"].rows = 25
    stats = aggregate([Sample("SELECT * FROM events WHERE city = 'x'", "db", 9.0, 9.0, 1, 1)])
    analysed = [(s, analyze(s.sample, cat.columns_of())) for s in stats]
    assert propose(analysed, cat, 4, min_table_rows=1000) == []
    assert [c.columns for c in propose(analysed, cat, 4)] == [("city",)]


def test_naive_baseline_is_one_index_per_clause_list() -> None:
    cat = catalog()
    sql = (
        "SELECT * FROM registrations r JOIN events e ON e.id = r.event_id"
        " WHERE r.attendee_id = 1 ORDER BY r.registered_at"
    )
    stats = aggregate([Sample(sql, "db", 1.0, 1.0, 1, 1)])
    analysed = [(s, analyze(s.sample, cat.columns_of())) for s in stats]
    keys = {(c.table, c.columns) for c in naive(analysed, cat)}
    assert keys == {
        ("registrations", ("attendee_id", "event_id")),
        ("registrations", ("event_id",)),
        ("registrations", ("registered_at",)),
        ("events", ("id",)),
    }
