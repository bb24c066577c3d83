"""Simulation speed: the batched model vs the naive one-process-per-request model, side by side.

* throughput: simulated requests per wall second of :mod:`simulation.model`
  vs :mod:`simulation.naive` on the same workload (the default day's first
  four hours, fixed replicas), target ratio >= 5, from the medians
  pytest-benchmark recorded for the two (the numbers of its table); both must
  also agree on what they predict;
* the full default scenario (>= 5 million requests) through ``perfcore
  simulate`` in a subprocess: wall time (target <= 60 s on 2 cores) and peak
  RSS (target <= 2 GiB), measured with ``os.wait4`` for that process alone.

Run: ``.venv/bin/pytest benchmarks/test_simulation_bench.py -s`` (ratios print at the end).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from simulation.naive import NaiveModel
from simulation.run import simulate
from simulation.scenario import load_scenario

# The default day's first four simulated hours (about a ninth of its requests, at its
# density), with a fixed replica count: the naive model cannot autoscale.
SMALL = [
    "horizon_s=14400",
    "scaling.min_replicas=4",
    "scaling.max_replicas=4",
    "workload.events.start_waves=[]",  # events from the first hour on, as before the waves
]


@pytest.fixture(scope="module")
def naive_runs() -> list[Any]:
    return []


def test_naive_model(benchmark: Any, naive_runs: list[Any], recorded: dict[str, Any]) -> None:
    scenario = load_scenario(None, SMALL)
    benchmark.pedantic(lambda: naive_runs.append(NaiveModel(scenario).run()), rounds=1)
    recorded[benchmark.name] = benchmark.stats.stats
    assert naive_runs[-1].requests > 0


def test_batched_vs_naive_throughput(
    benchmark: Any, naive_runs: list[Any], report_median_ratio: Callable[..., None]
) -> None:
    scenario = load_scenario(None, SMALL)
    fast_runs: list[Any] = []
    benchmark.pedantic(lambda: fast_runs.append(simulate(scenario)), rounds=2, iterations=1)
    # Same requests on both sides: the ratio of wall times is the ratio of requests/s.
    summary = fast_runs[-1].summary()
    report_median_ratio(
        benchmark,
        "test_naive_model",
        "simulation batched/naive requests per wall second",
        5.0,
        speedup=True,
        detail=f"{summary['requests']:,} requests",
    )
    if not naive_runs:
        pytest.fail("test_naive_model did not run before this test", pytrace=False)
    naive = naive_runs[-1]
    # Same arrivals, same draws: the two models must predict the same thing.
    assert naive.requests == summary["requests"]
    mean_latency_s = summary["api"]["mean_latency_ms"] / 1000.0
    assert mean_latency_s == pytest.approx(naive.mean_latency_s, rel=0.03)
    assert summary["cache"]["hit_ratio"] == pytest.approx(naive.hit_ratio, abs=0.01)


# The child's own high-water mark. rusage's ru_maxrss of a child also counts the
# pages it shared with this (large) pytest process between fork and exec, so it
# over-reports; VmHWM belongs to the child's own address space.
_REPORT_PEAK_RSS = """
import sys
from perfcore.cli import main
try:
    main(sys.argv[1:])
finally:
    peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]
    sys.stderr.write(peak[0])
"""


def test_default_scenario_wall_time_and_memory(report_ratio: Callable[..., None]) -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT_PEAK_RSS, "simulate", "--json", "--quiet"],
        capture_output=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    peak_kib = int(re.search(rb"VmHWM:\s+(\d+) kB", proc.stderr).group(1))  # type: ignore[union-attr]
    rss_gib = peak_kib / (1024 * 1024)
    print(
        f"\ndefault scenario: {summary['requests']:,} requests in {wall:.1f} s wall "
        f"({summary['wall_seconds']:.1f} s simulating), "
        f"{summary['requests_per_wall_second']:,.0f} req/s, peak RSS {rss_gib * 1024:.0f} MiB"
    )
    assert summary["requests"] >= 5_000_000
    report_ratio(
        "simulation default scenario wall seconds",
        wall,
        60.0,
        better="lower",
        detail=f"{summary['requests']:,} requests",
    )
    report_ratio("simulation default scenario peak RSS GiB", rss_gib, 2.0, better="lower")
