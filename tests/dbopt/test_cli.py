"""``perfcore db``: seed, workload and advise end to end; bad input exits 2 in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfcore.cli import main
from perfcore.dbopt.cli import parse_since


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
    assert report["slowQueriesFound"] == 11 and report["indexesCreated"] == 0, report["queries"]
    assert report["suggestions"] and all(s["applied"] is False for s in report["suggestions"])
    assert json.loads((tmp_path / "dbopt-report.json").read_text()) == report
    markdown = (tmp_path / "dbopt-report.md").read_text()
    assert markdown.startswith("# Index advisor report") and "CREATE INDEX" in markdown
    code, out, _ = run(
        ["db", "advise", "--dsn", private_dsn.rsplit("/", 1)[0] + "/", "--json"], capsys
    )
    assert code == 2 and out == ""
