"""``perfcore db``: seed, workload, advise and apply end to end; bad input exits 2 in one line.

``advise --out`` writes plan.json; ``apply`` builds exactly that plan, or refuses a
changed schema (exit 1) and an edited plan (exit 2), in one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from perfcore.cli import main
from perfcore.dbopt.cli import parse_since
from perfcore.dbopt.collect import NOT_ANALYSED
from perfcore.dbopt.datagen import seed
from perfcore.dbopt.plan import IndexPlan, load
from perfcore.dbopt.refschema import Scale
from perfcore.dbopt.workload import run as run_workload

SCALE = Scale(20_000)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_since_durations() -> None:
    assert parse_since("24h") == 24 and parse_since("90m") == 1.5 and parse_since("2d") == 48
    assert parse_since("3600s") == 1 and parse_since("6") == 6


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["db", "advise", "--dsn", "postgres://x/y"], "--dsn"),
        (
            ["db", "advise", "--dsn", "mysql+pymysql://root@127.0.0.1:1/x", "--since", "soon"],
            "--since",
        ),
        (
            ["db", "advise", "--dsn", "mysql+pymysql://root@127.0.0.1:1/x", "--min-savings", "150"],
            "min_savings_pct",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert field in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreachable_server_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["db", "advise", "--dsn", "mysql+pymysql://root@127.0.0.1:1/x"], capsys)
    assert code == 1 and out == "" and "cannot reach" in err


@pytest.mark.mariadb
def test_seed_workload_advise_json(
    private_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["db", "seed", "--dsn", private_dsn, "--rows", "20000", "--json"], capsys)
    assert code == 0 and json.loads(out)["tables"]["registrations"] == 20_000
    code, out, _ = run(
        ["db", "workload", "--dsn", private_dsn, "--rows", "20000", "--repeats", "1", "--json"],
        capsys,
    )
    assert code == 0 and json.loads(out)["statements"] == 11
    code, out, err = run(
        ["db", "advise", "--dsn", private_dsn, "--since", "1h", "--json", "--out", str(tmp_path)],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)  # exactly one JSON object on stdout
    # The 11 workload shapes are analysed; the seed's own writes are listed as not analysed.
    analysed = [q for q in report["queries"] if q["skipped"] is None]
    others = {q["fingerprint"].split()[0]: q["skipped"] for q in report["queries"] if q["skipped"]}
    assert len(analysed) == 11 and report["indexesCreated"] == 0, report["queries"]
    assert others and set(others.values()) == {NOT_ANALYSED}, others
    assert report["slowQueriesFound"] == len(report["queries"])
    assert report["suggestions"] and all(s["applied"] is False for s in report["suggestions"])
    assert json.loads((tmp_path / "dbopt-report.json").read_text()) == report
    markdown = (tmp_path / "dbopt-report.md").read_text()
    assert markdown.startswith("# Index advisor report") and "CREATE INDEX" in markdown
    code, out, _ = run(
        ["db", "advise", "--dsn", private_dsn.rsplit("/", 1)[0] + "/", "--json"], capsys
    )
    assert code == 2 and out == ""


def secondary(dsn: str) -> set[str]:
    engine = sa.create_engine(dsn)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME LIKE 'idx%%'"
        ).fetchall()
    engine.dispose()
    return {str(r[0]) for r in rows}


@pytest.fixture(scope="module")
def platform(private_dsn: str) -> Iterator[str]:
    seed(private_dsn, SCALE)
    run_workload(private_dsn, SCALE, repeats=2)
    yield private_dsn


@pytest.mark.mariadb
def test_dry_run_plans_and_apply_builds_exactly_the_plan(
    platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        code, _, err = run(["db", "advise", "--dsn", platform, "--out", str(out), "--json"], capsys)
        assert code == 0, err
    assert secondary(platform) == set(), "a dry run leaves no index behind"
    plan = load(first / "plan.json")
    assert plan.indexes and len(plan.schema_fingerprint) == 64
    for entry in plan.indexes:
        assert entry.ddl.startswith(f"CREATE INDEX `{entry.name}`") and entry.evidence
    # Two dry runs judge from the same refreshed statistics: the same plan.
    assert [i.name for i in load(second / "plan.json").indexes] == [i.name for i in plan.indexes]

    code, out, err = run(
        ["db", "apply", str(first / "plan.json"), "--dsn", platform, "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out)["indexes"] == [i.name for i in plan.indexes]
    assert secondary(platform) == {i.name for i in plan.indexes}

    # The schema now has those indexes: the same plan is refused, in one line.
    code, out, err = run(["db", "apply", str(first / "plan.json"), "--dsn", platform], capsys)
    assert code == 1 and out == "" and "schema_fingerprint" in err
    assert len(err.strip().splitlines()) == 1
    engine = sa.create_engine(platform, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in plan.indexes:
            connection.exec_driver_sql(f"DROP INDEX `{name.name}` ON `{name.table}`")
    engine.dispose()


@pytest.mark.mariadb
def test_an_edited_plan_is_bad_input(
    platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["db", "advise", "--dsn", platform, "--out", str(tmp_path)], capsys)
    assert code == 0, err
    document = json.loads((tmp_path / "plan.json").read_text())
    assert document["indexes"]
    document["indexes"][0]["ddl"] += "; DROP TABLE registrations"
    (tmp_path / "plan.json").write_text(json.dumps(document))
    code, out, err = run(["db", "apply", str(tmp_path / "plan.json"), "--dsn", platform], capsys)
    assert code == 2 and out == "" and "indexes.0.ddl" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "plan.json").write_text('{"database": 3}')
    code, _, err = run(["db", "apply", str(tmp_path / "plan.json"), "--dsn", platform], capsys)
    assert code == 2 and "plan.json" in err and "Traceback" not in err
    assert secondary(platform) == set()
    IndexPlan.model_validate(document)  # the edited document was well-formed: refused by check
