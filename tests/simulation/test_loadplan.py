"""The load plan: a scenario window's offered load per class and second, scaled and compressed."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from perfcore.errors import BadInput
from simulation.loadplan import Window, build_plan, offered_requests, parse_span
from simulation.scenario import Scenario
from simulation.workload import EventLayout, Workload

STREAMS = Scenario.model_validate(
    {
        "horizon_s": 600,
        "workload": {
            "events": {"count": 0},
            "streams": [
                {"request_class": "event_detail", "rate_per_s": 8.0, "keys": 5},
                {"request_class": "register", "rate_per_s": 2.0, "start_s": 100, "ramp_s": 100},
            ],
        },
    }
)


def test_rates_follow_the_scenario_scaled_and_compressed() -> None:
    plan = build_plan(STREAMS, Window(0, 300), rate_scale=0.5, time_scale=10)
    assert plan["duration_s"] == 30
    assert plan["rates"]["event_detail"] == [4.0] * 30
    reg = plan["rates"]["register"]
    assert reg[:10] == [0.0] * 10 and reg[-1] == pytest.approx(1.0)
    assert reg[15] == pytest.approx(0.5 * 2.0 * 55 / 100, rel=1e-6)  # mid-ramp: t = 150..160
    # Offered requests: the scenario's expected count in the window, times the rate scale.
    assert offered_requests(plan) * 10 == pytest.approx(0.5 * (8 * 300 + 2 * (100 - 50) + 2 * 100))
    assert plan["users"] == [
        math.ceil(sum(plan["rates"][c][k] for c in plan["rates"]) / 2.0) for k in range(30)
    ]


def test_the_default_day_plan_matches_the_workload_expectation() -> None:
    sc = Scenario()
    plan = build_plan(sc, Window.parse("17h-18h", sc), time_scale=60)
    layout = EventLayout.draw(sc, np.random.default_rng(sc.seed))
    wl = Workload(sc, layout, np.random.default_rng(sc.seed))
    expected = sum(
        v.sum() for v in wl.expected_counts(np.array([17 * 3600.0, 18 * 3600.0])).values()
    )
    assert plan["duration_s"] == 60
    assert offered_requests(plan) * 60 == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("text", ["", "17h", "18h-17h", "0-999999", "x-y"])
def test_bad_windows_name_the_option(text: str) -> None:
    with pytest.raises(BadInput, match="--window"):
        Window.parse(text, STREAMS)


def test_spans() -> None:
    assert parse_span("17h30m", "w") == 63000 and parse_span("90", "w") == 90


def test_a_run_past_the_bound_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "s.yaml").write_text("horizon_s: 7200\nloadtest: {max_run_time_s: 30}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfcore",
            "loadtest",
            "--host",
            "http://127.0.0.1:1",
            "--scenario",
            str(tmp_path / "s.yaml"),
            "--window",
            "0-3600",
            "--time-scale",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "loadtest.max_run_time_s" in result.stderr and "Traceback" not in result.stderr
