"""The benchmark-history notebook runs top to bottom in a Jupyter kernel, on saved runs."""

from __future__ import annotations

import json
from pathlib import Path

from notebook_kernel import execute

REPO = Path(__file__).resolve().parents[2]


def test_history_shows_each_benchmark_over_the_saved_runs(tmp_path: Path) -> None:
    committed = sorted((REPO / "benchmarks" / "baselines").glob("*/*/[0-9][0-9][0-9][0-9]_*.json"))
    assert committed, "no committed baseline run"
    run = json.loads(committed[-1].read_text())
    folder = tmp_path / "storage" / "x86_64-cpython3.11" / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True)
    (folder / "0001_a.json").write_text(json.dumps(run))
    # A later run in which the first benchmark does a quarter more work.
    run["datetime"] = "2100-01-01T00:00:00+00:00"
    run["commit_info"]["id"] = "beefcafe" * 5
    run["benchmarks"][0]["stats"]["median"] *= 1.25
    (folder / "0002_b.json").write_text(json.dumps(run))
    executed = execute(
        "benchmark_history",
        env={
            "PERFCORE_BENCH_STORAGE": str(tmp_path / "storage"),
            "PERFCORE_REPORTS": str(tmp_path / "reports"),
        },
    )
    lines = executed.text.splitlines()
    assert lines[0] == f"2 saved runs in {tmp_path / 'storage'}"
    first = run["benchmarks"][0]["name"]
    row = next(line for line in lines if line.startswith(first))
    assert row.split()[1] == "2" and "+25.0%" in row
    others = [line for line in lines if line.startswith("test_") and not line.startswith(first)]
    assert len(others) == len(run["benchmarks"]) - 1
    assert all("+0.0%" in line for line in others)
    assert (tmp_path / "reports" / "benchmark_history.png").stat().st_size > 10_000
