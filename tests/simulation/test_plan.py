"""``perfcore plan``: the fewest replicas and workers that hold on every seed, and impossible inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.plan import plan, smallest_holding
from simulation.scenario import load_scenario
from simulation.tune import evaluate
from simulation.tune_space import with_sets

from .helpers import one_line_error

# Twenty small events plus a 15-minute crowd on their pages that arrives in a minute:
# one pod is not enough, and pods take 45 s to start.
DAY = """\
seed: 5
horizon_s: 5400
workload:
  events: {count: 20, total_attendees: 6000, first_start_h: 0.5, last_start_h: 1.0, start_waves: []}
  ticket_sales: {largest_events: 0}
  streams:
    - {request_class: event_detail, rate_per_s: 250, start_s: 1800, end_s: 2700, ramp_s: 60, keys: 20}
"""


@pytest.fixture
def day(tmp_path: Path) -> Path:
    path = tmp_path / "day.yaml"
    path.write_text(DAY)
    return path


@pytest.mark.timeout(900)  # about 30 short simulations; slow on a loaded 2-core machine
def test_the_answer_holds_on_every_seed_and_one_replica_less_does_not(day: Path) -> None:
    base = load_scenario(day)
    answer = plan(base, 6000, slo_p95_ms=250.0, seeds=2)
    assert answer.seeds == [5, 6]
    assert answer.checked.feasible
    assert answer.min_replicas > 1 and answer.max_replicas >= answer.min_replicas
    assert answer.cost_usd > 0 and answer.pod_hours > 0
    fewer = with_sets(
        load_scenario(day, ["slo.p95_ms=250"]),
        [
            f"scaling.min_replicas={answer.min_replicas - 1}",
            f"scaling.max_replicas={answer.max_replicas}",
        ]
        + [f"queues.queues.{q}.concurrency={c}" for q, c in answer.concurrency.items()],
    )
    # The whole day decides (the answer is confirmed on it, every seed).
    worse = evaluate(fewer, answer.seeds, "full")
    assert max(m.violation_min for m in worse.measures) > 0
    # The answer breaks at a larger day than asked for, found by growing the load.
    assert answer.breaks_at_attendees is None or answer.breaks_at_attendees > 6000


def test_cli_json_and_impossible_inputs(day: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "perfcore", "plan", str(day), "--attendees", "3000", "--seeds",
         "1", "--slo-p95-ms", "400", "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["replicas"]) == {"min", "max"}
    assert set(report["concurrency"]) == {"critical", "high", "normal", "low"}
    assert report["attendees"] == 3000 and report["slo_p95_ms"] == 400
    for args, field in [
        (["--attendees", "100"], "--attendees"),  # fewer than 20 events x 10
        (["--attendees", "6000", "--events", "0"], "--events"),
        (["--attendees", "6000", "--slo-p95-ms", "0"], "--slo-p95-ms"),
        # Below a single request's CPU time: no number of replicas meets it.
        (["--attendees", "6000", "--slo-p95-ms", "1"], "not reachable"),
    ]:
        argv = ["plan", str(day), "--seeds", "1", *args]
        if "--slo-p95-ms" not in args:
            argv += ["--slo-p95-ms", "250"]
        line, out = one_line_error(argv, 2, capsys)
        assert out == "" and field in line, line


@pytest.mark.parametrize("threshold", [1, 2, 3, 7, 8, 50, 200])
@pytest.mark.parametrize("guess", [1, 2, 5, 8, 9, 120, 200])
def test_smallest_holding_finds_the_threshold_from_any_guess(threshold: int, guess: int) -> None:
    asked: list[int] = []

    def holds(n: int) -> bool:
        asked.append(n)
        return n >= threshold

    assert smallest_holding(guess, holds, 200) == threshold
    assert all(1 <= n <= 200 for n in asked)
    assert len(asked) <= 2 * 8 + 2  # galloping then bisecting: logarithmic


def test_smallest_holding_returns_the_ceiling_when_nothing_holds() -> None:
    assert smallest_holding(3, lambda n: False, 10) == 10
