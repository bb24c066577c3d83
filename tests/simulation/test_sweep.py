"""``perfcore sweep``: every grid point on the same seeds, shared by processes, one CSV and plot."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfcore.cli import main
from simulation.scenario import load_scenario
from simulation.sweep import Axis, points, sweep
from simulation.tune import evaluate
from simulation.tune_space import with_sets

from .helpers import one_line_error
from .test_tune import TINY

GRID = ["scaling.policy=seed,target-tracking", "scaling.min_replicas=1,4"]


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_axis_values_are_yaml_and_the_grid_is_their_product() -> None:
    axes = [Axis.parse("scaling.target_requests_per_replica=15,null"), Axis.parse(GRID[0])]
    assert axes[0].values == (15, None) and axes[1].values == ("seed", "target-tracking")
    grid = points(axes)
    assert len(grid) == 4 and grid[1] == {
        "scaling.target_requests_per_replica": 15,
        "scaling.policy": "target-tracking",
    }


def test_every_point_runs_on_the_same_seeds_in_two_processes(scenario_file: Path) -> None:
    base = load_scenario(scenario_file)
    result = sweep(base, [Axis.parse(g) for g in GRID], seeds=2, jobs=2)
    assert [p.number for p in result.points] == [0, 1, 2, 3]
    assert all(p.evaluation is not None for p in result.points)
    # A point's figures are exactly one evaluation of those values on those seeds.
    third = result.points[2]
    assert third.values == {"scaling.policy": "target-tracking", "scaling.min_replicas": 1}
    alone = evaluate(
        with_sets(base, ["scaling.policy=target-tracking", "scaling.min_replicas=1"]),
        result.seeds,
        "full",
    )
    assert third.evaluation is not None and third.evaluation.measures == alone.measures
    # The values matter: one pod violates the SLO where four do not.
    by = {(p.values["scaling.policy"], p.values["scaling.min_replicas"]): p for p in result.points}
    few, many = by["seed", 1].evaluation, by["seed", 4].evaluation
    assert few is not None and many is not None
    assert few.mean("violation_min") > many.mean("violation_min")
    assert few.mean("pod_hours") < many.mean("pod_hours")


def test_two_sweep_processes_share_one_sqlite_study(scenario_file: Path, tmp_path: Path) -> None:
    import optuna

    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    optuna.storages.RDBStorage(url)  # the schema once, before the processes join
    args = [sys.executable, "-m", "perfcore", "sweep", str(scenario_file), "--seeds", "1",
            "--storage", url, "--study", "s", "--json", *(f"--grid={g}" for g in GRID)]  # fmt: skip
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="s", storage=url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.number for t in done) == [0, 1, 2, 3]  # each point once
    assert all(t.number >= 4 for t in study.trials if t not in done)  # extra draws stopped
    reports = [json.loads(out) for out, _ in outputs]
    assert reports[0]["points"] == reports[1]["points"]  # both read the same finished study


def test_cli_writes_one_row_per_point_and_seed(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["sweep", str(scenario_file), "--seeds", "2", "--out", str(out)]
    try:
        main([*argv, *(f"--grid={g}" for g in GRID)])
    except SystemExit as exc:  # click's standalone mode may exit 0 after a command
        assert exc.code in (0, None)
    with (out / "sweep.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 2
    assert {r["scaling.policy"] for r in rows} == {"seed", "target-tracking"}
    assert {r["seed"] for r in rows} == {"3", "4"}
    assert all(float(r["pod_hours"]) > 0 for r in rows)
    assert (out / "sweep.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("grid", "field"),
    [
        ("scaling.target_cpu=0.5,7", "scaling.target_cpu"),
        ("nosuch.field=1,2", "nosuch"),
        ("scaling.min_replicas", "--grid"),
        ("scaling.min_replicas=1,1", "twice"),
    ],
)
def test_bad_grid_is_one_line_exit_2(
    grid: str, field: str, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, _ = one_line_error(["sweep", str(scenario_file), "--grid", grid], 2, capsys)
    assert field in line, line
