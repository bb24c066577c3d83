"""``perfcore tune``: reproducible multi-objective search, confirmed picks, files production loads."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfcore.config import load_config
from simulation.scenario import Scenario, load_scenario
from simulation.tune import TuneResult, evaluate, evaluate_all, tune
from simulation.tune_objectives import Evaluation, Measure, pick
from simulation.tune_space import Param, check_params, start_values, with_values

from .helpers import one_line_error

# A half-hour crowd on 50 event pages plus registrations, started on more
# replicas than it needs: there is cost to save, and too few pods violate.
TINY = """\
seed: 3
horizon_s: 1800
workload:
  events: {count: 0}
  timed_jobs: []
  streams:
    - {request_class: event_detail, rate_per_s: 150, start_s: 300, end_s: 1200, ramp_s: 120, keys: 50}
    - {request_class: register, rate_per_s: 25, start_s: 300, end_s: 1200, ramp_s: 120, keys: 5000}
scaling: {min_replicas: 6, max_replicas: 20}
"""
PARAMS = [
    Param("scaling.min_replicas", 1, 6, integer=True),
    Param("scaling.target_cpu", 0.4, 0.85),
    Param("cache.default_ttl_s", 5.0, 600.0, log=True),
]


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def run_tune(path: Path, seed: int = 1, trials: int = 6) -> TuneResult:
    return tune(load_scenario(path), PARAMS, trials=trials, seeds=2, confirm_seeds=2,
                leaders=2, sampler_seed=seed)  # fmt: skip


def test_same_seed_same_recommendation_and_common_random_numbers(scenario_file: Path) -> None:
    a, b = run_tune(scenario_file), run_tune(scenario_file)
    assert a.chosen_row.values == b.chosen_row.values and a.recommended == b.recommended
    assert [r.screen and r.screen.objectives() for r in a.rows] == [
        r.screen and r.screen.objectives() for r in b.rows
    ]
    # Every trial ran on the same seeds; the confirmation on others it never saw.
    seeds = {tuple(m.seed for m in r.screen.measures) for r in a.rows if r.screen}
    assert seeds == {(3, 4)}
    assert not set(a.confirm_seeds) & {3, 4}
    assert {m.seed for m in a.confirmation["start"].measures} == set(a.confirm_seeds)
    # The start is trial 0, so the front always contains the configuration to beat.
    assert a.rows[0].values == start_values(load_scenario(scenario_file), PARAMS)
    # The sampler's seed matters: another seed proposes other values.
    c = run_tune(scenario_file, seed=2)
    assert [r.values for r in c.rows[1:]] != [r.values for r in a.rows[1:]]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TuneResult]:
    """One tune of TINY (sampler seed 5), shared by the tests that only read it."""
    path = tmp_path_factory.mktemp("tuned") / "tiny.yaml"
    path.write_text(TINY)
    return path, run_tune(path, seed=5)


def test_evaluations_in_two_processes_equal_those_in_one(scenario_file: Path) -> None:
    base = load_scenario(scenario_file)
    other = with_values(base, {"scaling.min_replicas": 3})
    tasks = [(base, [1, 2], "full", True), (other, [1, 2, 3], "confirm", False)]
    alone, side_by_side = evaluate_all(tasks, jobs=1), evaluate_all(tasks, jobs=2)
    for a, b in zip(alone, side_by_side, strict=True):
        assert a.measures == b.measures and a.fidelity == b.fidelity
    same_day = json.dumps(alone[0].extra["day"]) == json.dumps(side_by_side[0].extra["day"])
    assert same_day and "day" not in alone[1].extra  # (NaN: minutes without requests)
    assert alone[0].measures != alone[1].measures[:2]  # the configurations differ


def test_the_pick_is_the_cheapest_that_meets_every_constraint(
    tuned: tuple[Path, TuneResult],
) -> None:
    result = tuned[1]
    full = [(r.number, r.full) for r in [result.start, *result.rows] if r.full is not None]
    feasible = [(n, ev) for n, ev in full if ev.feasible]
    assert feasible, "the starting configuration (6 pods) meets the SLO"
    cheapest = min(ev.mean("cost_usd") for _, ev in feasible)
    assert result.meets_constraints
    assert result.chosen_row.full is not None
    assert result.chosen_row.full.mean("cost_usd") == pytest.approx(cheapest)
    # It costs less than the 6-pod start and still meets the SLO on the fresh seeds.
    rec, start = result.confirmation["recommended"], result.confirmation["start"]
    assert rec.mean("cost_usd") < start.mean("cost_usd")
    assert rec.feasible and result.to_json()["gain_held"] is True


def _measure(seed: int, cost: float, violation: float, wait: float) -> Measure:
    return Measure(seed, cost, cost, violation, 10.0, {"normal": wait}, 0.0)


def test_pick_rule_prefers_feasible_then_least_excess() -> None:
    def ev(*ms: Measure) -> Evaluation:
        return Evaluation(list(ms), {"normal": 60.0}, 0.0)

    cheap_but_one_bad_seed = ev(_measure(1, 1.0, 0, 10), _measure(2, 1.0, 3, 10))
    dearer_ok = ev(_measure(1, 2.0, 0, 10), _measure(2, 2.0, 0, 50))
    dearest_ok = ev(_measure(1, 3.0, 0, 1), _measure(2, 3.0, 0, 1))
    assert pick([(0, cheap_but_one_bad_seed), (1, dearer_ok), (2, dearest_ok)])[:1] == (1,)
    slow = ev(_measure(1, 1.0, 0, 600))  # ten times the target
    slower_but_violating = ev(_measure(1, 1.0, 1, 90))
    key, _, meets = pick([(0, slow), (1, slower_but_violating)])
    assert (key, meets) == (1, False)


def test_param_reaches_namespaces_and_queues_without_a_set(scenario_file: Path) -> None:
    base = load_scenario(scenario_file)
    params = [
        Param("cache.namespaces.event_detail.ttl_s", 10, 900, log=True),
        Param("queues.queues.normal.concurrency", 2, 40, integer=True),
    ]
    check_params(base, params)
    assert start_values(base, params) == {
        "cache.namespaces.event_detail.ttl_s": 300.0,
        "queues.queues.normal.concurrency": 10,
    }
    tuned = with_values(base, {params[0].path: 42.0, params[1].path: 7})
    assert tuned.cache.namespace("event_detail").ttl_s == 42.0
    assert tuned.cache.namespace("event_detail").use_memory is True
    assert next(q for q in tuned.queues.queues if q.name == "normal").concurrency == 7
    # Namespaces the search does not name keep following default_ttl_s.
    assert "attendee_profile" not in tuned.cache.namespaces
    result = tune(base, params, trials=3, seeds=1, confirm_seeds=1, leaders=1)
    assert [r.state for r in result.rows] == ["ok"] * 3


def test_cli_writes_files_production_loads(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    params = [f"--param={p.spec()}" for p in PARAMS]
    done = subprocess.run(
        [sys.executable, "-m", "perfcore", "tune", str(scenario_file), "--trials", "5", "--seed",
         "4", "--seeds", "2", "--confirm-seeds", "2", *params, "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert len(report["trials"]) == 5
    assert set(report["confirmation"]) == {"recommended", "start", "seed settings"}
    values = report["recommended_values"]
    config = load_config(out / "recommended.yaml")
    assert config.scaling.min_replicas == values["scaling.min_replicas"]
    assert config.cache.default_ttl_s == pytest.approx(values["cache.default_ttl_s"])
    # Untuned fields come from the scenario, not from the schema defaults.
    assert config.scaling.max_replicas == 20
    check = subprocess.run(
        [sys.executable, "-m", "perfcore", "config", "check", str(out / "recommended.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    with (out / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["trial"] for r in rows] == ["start", *map(str, range(5))]
    with (out / "pareto.csv").open() as fh:
        front = list(csv.DictReader(fh))
    assert front and {r["trial"] for r in front} <= {r["trial"] for r in rows}
    for png in ("pareto.png", "day.png", "importances.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_recommended_yaml_reproduces_the_confirmation(
    tuned: tuple[Path, TuneResult], tmp_path: Path
) -> None:
    from simulation.tune_report import format_table, write_outputs

    scenario_file, result = tuned
    write_outputs(result, tmp_path, "tiny.yaml")
    tuned: Scenario = load_scenario(scenario_file, config_path=tmp_path / "recommended.yaml")
    again = evaluate(tuned, result.confirm_seeds, "confirm")
    assert again.measures == result.confirmation["recommended"].measures
    table = format_table(result)
    assert "seed settings" in table and "meets every constraint" in table


def test_screening_on_the_busiest_hour_promotes_leaders_to_the_full_day(tmp_path: Path) -> None:
    path = tmp_path / "day.yaml"
    path.write_text(TINY.replace("horizon_s: 1800", "horizon_s: 9000").replace(
        "start_s: 300, end_s: 1200", "start_s: 5400, end_s: 6300"))  # fmt: skip
    base = load_scenario(path)
    result = tune(base, PARAMS, trials=4, seeds=1, confirm_seeds=1, leaders=2)
    assert result.window is not None and result.window.start_s <= 5400 <= result.window.end_s
    screened = [r for r in result.rows if r.screen is not None]
    assert {r.screen.fidelity for r in screened if r.screen} == {"screen"}
    promoted = [r for r in result.rows if r.full is not None]
    assert len(promoted) == 2 and all(r.full and r.full.fidelity == "full" for r in promoted)


@pytest.mark.parametrize(
    ("param", "field"),
    [
        ("scaling.no_such_field=1:2", "scaling.no_such_field"),
        ("scaling.target_cpu=0.9:0.5", "scaling.target_cpu"),
        ("scaling.policy=1:2", "scaling.policy"),
        ("workload.events.count=1:5", "workload.events.count"),
        ("scaling.target_cpu=0.4:2", "scaling.target_cpu"),
        ("cache.default_ttl_s=0:100:log", "cache.default_ttl_s"),
        ("scaling.min_replicas=1.5:3:int", "scaling.min_replicas"),
        ("cache.default_ttl_s=a:b", "cache.default_ttl_s"),
        ("cache.default_ttl_s", "cache.default_ttl_s"),
        ("cache.namespaces.no_such_ns.ttl_s=1:5", "cache.namespaces.no_such_ns.ttl_s"),
        # Valid for the field, but always below the scenario's min_replicas (6).
        ("scaling.max_replicas=1:3:int", "min_replicas must not exceed max_replicas"),
    ],
)
def test_bad_param_exits_2_with_one_line(
    param: str, field: str, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tune", str(scenario_file), "--trials", "2", "--seeds", "1", "--param", param]
    line, out = one_line_error(argv, 2, capsys)
    assert out == "" and field in line, line


@pytest.mark.parametrize(
    ("storage", "code", "text"),
    [
        ("mysql+pymysql://user:s3cret@127.0.0.1:1/optuna", 1, "cannot open the study storage"),
        ("no-scheme", 2, "--storage: expected"),
        ("foo://user:s3cret@host/db", 2, "--storage: unknown database 'foo'"),
        ("postgresql://user:s3cret@127.0.0.1:1/optuna", 2, "is not installed"),
        ("sqlite:///no/such/dir/study.db", 2, "directory no/such/dir does not exist"),
    ],
)
def test_bad_or_unreachable_storage_is_one_line(
    storage: str, code: int, text: str, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tune", str(scenario_file), "--trials", "1", "--seeds", "1", "--storage", storage]
    line, _ = one_line_error(argv, code, capsys)
    assert text in line and "s3cret" not in line
