"""The decision-support workload end to end on a small database: every shape advised, none skipped.

The advisor report notebook runs on that report through a real Jupyter
kernel (nbclient), into ``reports/advisor_report.ipynb``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notebook_kernel import execute

from perfcore.config import DbOptConfig
from perfcore.dbopt.advisor import AdviseOptions, advise, observe
from perfcore.dbopt.collect import NOT_ANALYSED
from perfcore.dbopt.dss_data import DssScale, seed
from perfcore.dbopt.dss_workload import ANALYTICAL, LOOKUPS, run, statements
from perfcore.dbopt.greedy import single_columns
from perfcore.dbopt.session import Session, connect

pytestmark = [pytest.mark.mariadb]

SCALE = DssScale(20_000)


@pytest.fixture(scope="module")
def dss(private_dsn: str) -> Iterator[str]:
    counts = seed(private_dsn, SCALE)
    assert counts["lineitem"] == 20_000 and len(counts) == 8
    result = run(private_dsn, statements(SCALE, rounds=1), log_all=True)
    assert result.statements == len(ANALYTICAL) + 10 * len(LOOKUPS)
    yield private_dsn


@pytest.fixture(scope="module")
def report(dss: str) -> dict[str, Any]:
    """One dry run with measured latencies (one timed run each: small data, fast)."""
    options = AdviseOptions(dss, use_digest=False, measure_latency=True)
    return advise(options, DbOptConfig(measure_runs=1)).to_json()


def test_every_decision_support_shape_is_analysed_and_advised(report: dict[str, Any]) -> None:
    config = DbOptConfig()
    skipped = {q["fingerprint"]: q["skipped"] for q in report["queries"] if q["skipped"]}
    # Only the loader's own statements (LOAD DATA, SET, ...) are listed as not analysed.
    assert set(skipped.values()) <= {NOT_ANALYSED}, skipped
    assert not [fp for fp in skipped if fp.startswith(("select", "with"))], skipped
    assert len(report["queries"]) - len(skipped) == len(ANALYTICAL) + len(LOOKUPS)
    assert any(q["fingerprint"].startswith("with revenue as") for q in report["queries"])
    assert 0 < len(report["suggestions"]) <= config.top
    for suggestion in report["suggestions"]:
        assert suggestion["table"] not in {"region", "nation"}, "no slot for a 25-row table"
        # (l_orderkey, l_linenumber) is lineitem's key: never inside a secondary index.
        if suggestion["table"] == "lineitem":
            assert "l_orderkey" not in suggestion["columns"][1:]
    tables = {s["table"] for s in report["suggestions"]}
    assert "lineitem" in tables


def test_the_greedy_baseline_proposes_single_columns_everywhere(dss: str) -> None:
    engine = connect(dss)
    with engine.connect() as connection:
        catalog, analysed, _ = observe(
            Session(connection), AdviseOptions(dss, use_digest=False), DbOptConfig()
        )
    engine.dispose()
    found = single_columns(analysed, catalog)
    assert all(len(c.columns) == 1 for c in found)
    keys = {(c.table, c.columns[0]) for c in found}
    assert {("lineitem", "l_partkey"), ("orders", "o_custkey"), ("lineitem", "l_shipdate")} <= keys


def test_the_report_notebook_runs_through_a_kernel(report: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "dbopt-report.json").write_text(json.dumps(report))
    run = execute(
        "advisor_report", env={"PERFCORE_ADVISOR_REPORT": str(tmp_path / "dbopt-report.json")}
    )
    text = run.text
    assert f"indexes: {len(report['suggestions'])}" in text
    measured = [q for q in report["queries"] if q["latency_before_ms"] is not None]
    assert measured and f"statements measured: {len(measured)}" in text
    assert (
        "index size in all:" in text and f"rejected candidates: {len(report['rejected'])}" in text
    )
    assert run.images >= 1
