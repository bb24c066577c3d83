"""The whole advisor against real MariaDB: reference data, a logged workload, dry run, apply, re-run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from perfcore.config import DbOptConfig
from perfcore.dbopt.advisor import AdviseOptions, advise
from perfcore.dbopt.apply import create_index
from perfcore.dbopt.candidates import Candidate
from perfcore.dbopt.datagen import seed
from perfcore.dbopt.planner import detect_flavour
from perfcore.dbopt.refschema import Scale
from perfcore.dbopt.schema import read_catalog
from perfcore.dbopt.session import Session, connect
from perfcore.dbopt.workload import run

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

SCALE = Scale(40_000)


def index_names(dsn: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(dsn)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'"
        ).fetchall()
    engine.dispose()
    return {(str(t), str(i)) for t, i in rows}


@pytest.fixture(scope="module")
def platform(private_dsn: str) -> Iterator[str]:
    seed(private_dsn, SCALE)
    run(private_dsn, SCALE, repeats=2)
    yield private_dsn


def test_dry_run_proposes_verified_indexes_and_leaves_none_behind(platform: str) -> None:
    before = index_names(platform)
    report = advise(AdviseOptions(platform), DbOptConfig()).to_json()
    assert index_names(platform) == before, "a dry run must drop every index it built"
    assert report["applied"] is False and report["indexesCreated"] == 0
    assert report["slowQueriesFound"] >= 10
    suggestions = report["suggestions"]
    assert 0 < len(suggestions) <= 10
    for s in suggestions:
        assert s["ddl"].startswith(f"CREATE INDEX `{s['name']}` ON `")
        assert s["ddl"].endswith("ALGORITHM=INPLACE LOCK=NONE")
        assert 1 <= len(s["columns"]) <= 4
        assert s["queries"], "every suggestion names the statements it serves"
        for q in s["queries"]:
            assert q["cost_after"] <= q["cost_before"] * 0.5
    tables = {s["table"] for s in suggestions}
    assert {"registrations", "notifications", "check_ins"} <= tables
    # The attendee's registrations sorted by date: equality first, then the date.
    attendee = [s["columns"] for s in suggestions if s["table"] == "registrations"]
    assert any(c[0] == "attendee_id" and c[-1] == "registered_at" for c in attendee)
    assert report["queriesOptimized"] >= 8
    # The UPDATE was analysed (its WHERE), and never executed by the advisor.
    fingerprints = [q["fingerprint"] for s in suggestions for q in s["queries"]]
    assert any(fp.startswith("update notifications") for fp in fingerprints)
    json.dumps(report)


def _on_attendee(entry: dict[str, Any]) -> bool:
    return bool(entry["table"] == "notifications" and entry["columns"][0] == "attendee_id")


def _served(report: dict[str, Any]) -> set[str]:
    return {q["fingerprint"] for s in report["suggestions"] for q in s["queries"]}


def test_overlapping_candidates_collapse_to_one_index(platform: str) -> None:
    report = advise(AdviseOptions(platform), DbOptConfig()).to_json()
    leading = _on_attendee
    assert len([s for s in report["suggestions"] if leading(s)]) == 1
    others = [r for r in report["rejected"] if leading(r)]
    assert others, "the workload proposes two indexes led by notifications.attendee_id"
    for r in others:
        assert "once the chosen indexes exist" in r["reason"] or r["reason"].startswith("redundant")
    # Pruning off changes nothing the forward selection has not already settled.
    unpruned = advise(AdviseOptions(platform), DbOptConfig(prune_cost_factor=1)).to_json()
    assert _served(report) == _served(unpruned)


def test_min_savings_100_keeps_nothing(platform: str) -> None:
    report = advise(AdviseOptions(platform), DbOptConfig(min_savings_pct=100)).to_json()
    assert report["suggestions"] == []
    assert all(
        "less than 100%" in r["reason"] or "does not use" in r["reason"] for r in report["rejected"]
    )


def index_keys(dsn: str) -> list[tuple[str, tuple[str, ...]]]:
    engine = sa.create_engine(dsn)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT TABLE_NAME, INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
            " GROUP BY TABLE_NAME, INDEX_NAME"
        ).fetchall()
    engine.dispose()
    return [(str(t), tuple(str(c).split(","))) for t, _, c in rows]


def test_apply_builds_top_indexes_measures_and_is_idempotent(platform: str) -> None:
    before = index_names(platform)
    config = DbOptConfig(top=6)
    engine = connect(platform)
    with engine.connect() as connection:
        session = Session(connection)
        options = AdviseOptions(platform, apply=True, measure_latency=True)
        report = advise(options, config, session).to_json()
    engine.dispose()
    assert 4 <= report["indexesCreated"] == len(report["suggestions"]) <= 6
    created = index_names(platform) - before
    assert created == {(s["table"], s["name"]) for s in report["suggestions"]}
    measured = [q for s in report["suggestions"] for q in s["queries"]]
    assert measured and all(q["latency_before_ms"] is not None for q in measured)
    assert all(q["latency_after_ms"] is not None for q in measured)
    sent = [s.split("*/", 1)[1].strip() for s in session.statements]
    analyze_table = [s for s in sent if s.startswith("ANALYZE TABLE")]
    # Statistics are refreshed before the experiment (one consistent state) and after it.
    assert len(analyze_table) == 2 and analyze_table[0] == analyze_table[1]
    assert {s["table"] for s in report["suggestions"]} <= {
        t.strip("`").split("`.`")[-1] for t in analyze_table[1][len("ANALYZE TABLE ") :].split(", ")
    }
    assert sum(s.startswith("CREATE INDEX") for s in sent) == len(report["suggestions"]) + len(
        report["rejected"]
    )
    reasons = {r["reason"] for r in report["rejected"]}
    assert "beyond the top 6" in reasons

    again = advise(AdviseOptions(platform, apply=True), config).to_json()
    assert not {s["name"] for s in again["suggestions"]} & {
        s["name"] for s in report["suggestions"]
    }
    keys = index_keys(platform)
    assert len(keys) == len(set(keys)), "no two indexes on one table share their columns"


def test_building_an_existing_index_is_a_no_op(platform: str) -> None:
    engine = connect(platform)
    with engine.connect() as connection:
        session = Session(connection)
        catalog = read_catalog(session, session.scalar("SELECT DATABASE()"))
        flavour = detect_flavour(session)
        name = next(i for i in catalog.tables["registrations"].indexes if i != "PRIMARY")
        index = catalog.tables["registrations"].indexes[name]
        candidate = Candidate("registrations", index.columns, len(index.columns), (), 0.0, 1)
        assert candidate.name == name
        assert (
            create_index(session, flavour, catalog, candidate, 2)
            == "an index of this name already exists"
        )
    engine.dispose()


def test_partitioning_suggestion_is_valid_ddl_for_mariadb(platform: str) -> None:
    config = DbOptConfig(partition_min_rows=10_000, partition_min_share=0.05)
    report = advise(AdviseOptions(platform), config).to_json()
    by_table = {p["table"]: p for p in report["partitioning"]}
    assert report["partitioningSuggestions"] == len(by_table) >= 1
    suggestion = by_table["registrations"]
    assert suggestion["column"] == "registered_at"
    assert any("registered_at >= ?" in q for q in suggestion["queries"])
    # The primary key (id) lacks the partitioning column: the suggestion extends it.
    assert suggestion["key_changes"] == [
        f"ALTER TABLE `{report['database']}`.`registrations` DROP PRIMARY KEY,"
        " ADD PRIMARY KEY (`id`, `registered_at`)"
    ]
    assert suggestion["blockers"] == []
    (ddl,) = suggestion["ddl"]
    assert "PARTITION BY RANGE COLUMNS(`registered_at`)" in ddl
    # Prove the DDL is accepted by the server, on a copy of the table.
    engine = sa.create_engine(platform, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS reg_copy")
        connection.exec_driver_sql("CREATE TABLE reg_copy LIKE registrations")
        connection.exec_driver_sql("INSERT INTO reg_copy SELECT * FROM registrations LIMIT 2000")
        for statement in [*suggestion["key_changes"], ddl]:
            connection.exec_driver_sql(statement.replace("`registrations`", "`reg_copy`"))
        partitions = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM information_schema.PARTITIONS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'reg_copy'"
        ).scalar()
        connection.exec_driver_sql("DROP TABLE reg_copy")
    engine.dispose()
    assert partitions is not None and partitions > 12
