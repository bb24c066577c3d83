"""sqlglot analysis on MySQL SQL: backquotes, aliases, subqueries, IN lists, LIMIT a,b, writes."""

from __future__ import annotations

import re

import pytest

from perfcore.dbopt.analyze import NotAnalysable, TableUsage, analyze
from perfcore.dbopt.planner import _number
from perfcore.dbopt.privileges import broad_grants

COLUMNS = {
    "registrations": ["id", "event_id", "attendee_id", "status", "registered_at"],
    "events": ["id", "title", "category", "city", "starts_at"],
    "sessions": ["id", "event_id", "room", "starts_at"],
    "check_ins": ["id", "session_id", "event_id", "gate", "checked_in_at"],
}


def usage(sql: str, table: str, index: int = 0) -> TableUsage:
    found = [u for u in analyze(sql, COLUMNS).usages if u.table == table]
    return found[index]


def test_backquotes_aliases_and_limit_offset() -> None:
    sql = (
        "SELECT r.`id`, e.title FROM `registrations` AS r JOIN `events` e ON e.`id` = r.event_id "
        "WHERE r.attendee_id = 42 AND r.`status` IN ('confirmed', 'waitlisted') "
        "ORDER BY r.registered_at DESC LIMIT 10, 20"
    )
    r = usage(sql, "registrations")
    assert r.equality == ["attendee_id", "status"]
    assert r.joins == ["event_id"]
    assert r.order_by == ["registered_at"]
    e = usage(sql, "events")
    assert e.joins == ["id"]
    assert "LIMIT 20 OFFSET 10" in analyze(sql, COLUMNS).explain_sql


def test_unqualified_columns_resolve_through_the_catalog() -> None:
    sql = "SELECT title FROM events JOIN sessions s ON s.event_id = events.id WHERE city = 'x' AND room = 'r1'"
    assert usage(sql, "events").equality == ["city"]
    assert usage(sql, "sessions").equality == ["room"]
    assert usage(sql, "sessions").joins == ["event_id"]


def test_ambiguous_unqualified_column_is_not_guessed() -> None:
    sql = "SELECT 1 FROM events JOIN sessions s ON s.event_id = events.id WHERE starts_at > NOW()"
    assert usage(sql, "events").ranges == [] and usage(sql, "sessions").ranges == []


def test_ranges_between_like_prefix_and_group_by() -> None:
    sql = (
        "SELECT gate, COUNT(*) FROM check_ins WHERE event_id = 3 AND checked_in_at BETWEEN "
        "'2026-01-01' AND '2026-02-01' AND gate LIKE 'north%' GROUP BY gate"
    )
    c = usage(sql, "check_ins")
    assert c.equality == ["event_id"]
    assert c.ranges == ["checked_in_at", "gate"]
    assert c.group_by == ["gate"]


def test_like_with_leading_wildcard_and_or_are_not_indexable() -> None:
    sql = "SELECT id FROM events WHERE title LIKE '%x' AND (city = 'a' OR category = 'b')"
    e = usage(sql, "events")
    assert e.equality == [] and e.ranges == []


def test_subqueries_are_analysed_in_their_own_scope() -> None:
    sql = (
        "SELECT c.session_id, COUNT(*) FROM check_ins c WHERE c.session_id IN "
        "(SELECT id FROM sessions WHERE event_id = 9) GROUP BY c.session_id"
    )
    assert usage(sql, "check_ins").equality == ["session_id"]
    assert usage(sql, "sessions").equality == ["event_id"]


def test_correlated_outer_column_counts_as_a_constant() -> None:
    sql = (
        "SELECT e.id FROM events e WHERE EXISTS "
        "(SELECT 1 FROM registrations r WHERE r.event_id = e.id AND r.status = 'confirmed')"
    )
    assert usage(sql, "registrations").equality == ["event_id", "status"]


def test_mixed_sort_directions_give_no_order_columns() -> None:
    sql = "SELECT id FROM events WHERE city = 'a' ORDER BY starts_at DESC, id ASC"
    assert usage(sql, "events").order_by == []


def test_update_and_delete_become_a_select_with_the_same_where() -> None:
    update = analyze(
        "UPDATE registrations SET status = 'x' WHERE attendee_id = 4 AND id > 10", COLUMNS
    )
    assert update.kind == "update"
    assert update.explain_sql == "SELECT 1 FROM registrations WHERE attendee_id = 4 AND id > 10"
    delete = analyze("DELETE FROM `events` WHERE starts_at < '2024-01-01' LIMIT 100", COLUMNS)
    assert delete.kind == "delete"
    assert delete.explain_sql.startswith("SELECT 1 FROM `events` WHERE starts_at < '2024-01-01'")


def test_multi_table_update_is_planned_as_a_join() -> None:
    sql = "UPDATE events e JOIN sessions s ON s.event_id = e.id SET e.city = 'x' WHERE s.room = 'a'"
    result = analyze(sql, COLUMNS)
    assert result.explain_sql == (
        "SELECT 1 FROM events AS e JOIN sessions AS s ON s.event_id = e.id WHERE s.room = 'a'"
    )
    assert usage(sql, "sessions").equality == ["room"]


def test_union_is_analysed_per_branch() -> None:
    sql = (
        "SELECT id FROM events WHERE city = 'a' UNION ALL SELECT id FROM sessions WHERE room = 'b'"
    )
    result = analyze(sql, COLUMNS)
    assert {u.table for u in result.usages} == {"events", "sessions"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM events WHERE id = 1; DROP TABLE events",
        "DROP TABLE events",
        "INSERT INTO events (id) VALUES (1)",
        "SELECT SLEEP(5) FROM events",
        "SELECT * FROM events WHERE id = my_stored_function(1)",
        "SELECT * FROM events WHERE id = 1 FOR UPDATE",
        "SELECT * FROM events INTO OUTFILE '/tmp/x'",
        "SELECT * FROM events WHERE id = ?",
        "DELETE e FROM events e JOIN sessions s ON s.event_id = e.id WHERE s.room = 'a'",
        "SELECT * FROM (",
    ],
)
def test_statements_that_are_never_planned(sql: str) -> None:
    with pytest.raises(NotAnalysable):
        analyze(sql, COLUMNS)


def test_comments_never_reach_the_explained_text() -> None:
    sql = "SELECT id FROM events /* */ ; DROP TABLE x; /* */ WHERE city = 'a'"
    with pytest.raises(NotAnalysable):
        analyze(sql, COLUMNS)
    commented = analyze(
        "SELECT id FROM events -- */ ; DROP TABLE events\n WHERE city = 'a'", COLUMNS
    )
    assert "DROP" not in commented.explain_sql and ";" not in commented.explain_sql


def test_every_call_is_resolved_against_the_allow_list() -> None:
    columns = {"t": ["id", "a", "d"]}
    for sql, name in [
        ("SELECT id FROM t WHERE id = mydb.lower(3)", "mydb.lower"),
        ("SELECT id FROM t WHERE id = `mydb`.`f`(1)", "`mydb`.f"),
        ("SELECT id FROM t WHERE a = my_func(2)", "my_func"),
        ("SELECT id FROM t WHERE a = SLEEP(2)", "SLEEP"),
        ("SELECT BENCHMARK(1000, MD5('x')) FROM t", "BENCHMARK"),
    ]:
        with pytest.raises(NotAnalysable, match=f"calls function {re.escape(name)}"):
            analyze(sql, columns)
    ok = analyze(
        "SELECT LOWER(a), SUM(id), ROW_NUMBER() OVER (ORDER BY d) FROM t"
        " WHERE d >= DATE_SUB('2026-01-01', INTERVAL 3 DAY) AND a LIKE 'PROMO%'",
        columns,
    )
    assert ok.usages[0].ranges == ["d", "a"]


def test_deep_nesting_is_a_reason_not_a_recursion_error() -> None:
    with pytest.raises(NotAnalysable, match="nested 3000 levels"):
        analyze("SELECT * FROM t WHERE " + "(" * 3000 + "a = 1" + ")" * 3000, {"t": ["a"]})
    chain = " AND ".join(f"a = {i}" for i in range(5000))
    with pytest.raises(NotAnalysable, match="nested too deeply"):
        analyze(f"SELECT * FROM t WHERE {chain}", {"t": ["a"]})


def test_explain_cells_of_every_plan_shape_parse() -> None:
    assert _number("2381 (30%)") == 2381.0  # rowid filter
    assert _number(1500) == 1500.0 and _number("12.5") == 12.5
    assert _number(None, 100.0) == 100.0 and _number("NULL", 1.0) == 1.0


def test_superuser_grants_are_recognised() -> None:
    assert broad_grants(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"])
    assert broad_grants(["GRANT SELECT, SUPER ON *.* TO `x`@`%`"])
    least = [
        "GRANT USAGE ON *.* TO `advisor`@`localhost`",
        "GRANT SELECT, INSERT, INDEX, ALTER ON `platform`.* TO `advisor`@`localhost`",
        "GRANT SELECT ON `mysql`.`slow_log` TO `advisor`@`localhost`",
    ]
    assert broad_grants(least) == []
