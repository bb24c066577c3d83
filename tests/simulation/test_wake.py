"""The wake-up cost of an idle core: in the model, and as calibration fits it from two runs."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perfcore.service.metrics import LATENCY_BUCKETS
from simulation.calibrate_core import Fitted
from simulation.calibrate_wake import RunLoad, wake_fit, warm, warm_spread
from simulation.measured import Histogram, ServerDelta
from simulation.replay import Trace, replay
from simulation.scenario import REQUEST_CLASSES, Scenario

SIZES = {"global": 1, "event": 40, "attendee": 2000, "session": 160}
PERFCORE = [sys.executable, "-m", "perfcore"]


def _trickle(wake: float, rate: float, n: int = 4_000) -> float:
    """Mean latency (ms) of 1 ms deterministic bursts arriving Poisson at ``rate``."""
    sc = Scenario.model_validate({"infrastructure": {
        "request_classes": {"export_report": {"cpu_ms": 1.0}},
        "api": {"slots_per_replica": 1000, "cpus_per_replica": 1, "service": "deterministic",
                "auth_ms": 0.0, "wake_factor": wake, "wake_gap_s": 0.5}}})  # fmt: skip
    times = np.cumsum(np.random.default_rng(11).exponential(1 / rate, n))
    cid = REQUEST_CLASSES.index("export_report")
    trace = Trace(times, np.full(n, cid, np.int8), np.full(n, -1), float(times[-1]) + 1)
    return float(replay(sc, trace, SIZES).latency_ms.mean())


def test_a_request_on_an_idle_core_pays_for_waking_it() -> None:
    assert _trickle(0.0, 1.0) == pytest.approx(1.0, rel=1e-3)  # two arrivals rarely overlap
    # Gaps of mean 1 s, tau 0.5 s: E[1 - exp(-g / tau)] = 1 / (1 + rate * tau) = 2 / 3.
    assert _trickle(2.0, 1.0) == pytest.approx(1.0 + 2.0 * 2 / 3, rel=0.03)
    # Arrivals 20 ms apart on average find a core that barely slept: E = 1 / 26.
    assert _trickle(2.0, 50.0) == pytest.approx(1.0 + 2.0 / 26, rel=0.03)


def _hist(value_s: float, count: int) -> Histogram:
    return Histogram({b: (count if b >= value_s else 0.0) for b in LATENCY_BUCKETS}, 0.0, count)


def _run(hit_s: float, query_s: float, requests: int, cpu_s: float) -> ServerDelta:
    route = "GET /events/active"
    return ServerDelta(
        routes={route: _hist(hit_s, requests)},
        cache={route: {"hit": float(requests), "miss": 0.0}},
        queries={"event_by_id": _hist(query_s, requests)},
        l2={},
        lookups={("active_events", "l1", "hit"): float(requests)},
        cpu_s=cpu_s,
        stack_wall_s=60.0,
    )


def test_two_runs_give_the_wake_factor_and_the_warm_costs(tmp_path: Path) -> None:
    low, busy = _run(0.00046, 0.0019, 1_200, 3.0), _run(0.00025, 0.0015, 12_000, 18.0)
    fitted, cpu_div, db_div, skipped = wake_fit(low, tmp_path, busy, tmp_path, 0.04, 30)
    f_low, f_run = RunLoad(20.0, 0.05).paid(0.04), RunLoad(200.0, 0.3).paid(0.04)
    assert f_low == pytest.approx(0.95 / 1.8) and f_run == pytest.approx(0.7 / 9)
    values = {f.path: f.value for f in fitted}
    for path, (a, b) in {
        "infrastructure.api.wake_factor": (low.routes, busy.routes),
        "infrastructure.db.wake_factor": (low.queries, busy.queries),
    }.items():
        ratio = next(iter(a.values())).quantile(0.5) / next(iter(b.values())).quantile(0.5)
        assert values[path] == pytest.approx((ratio - 1) / (f_low - ratio * f_run))
    assert cpu_div == pytest.approx(1 + values["infrastructure.api.wake_factor"] * f_low)
    assert db_div == pytest.approx(1 + values["infrastructure.db.wake_factor"] * f_low)
    assert not skipped
    costs = [
        Fitted("infrastructure.request_classes.event_detail.cpu_ms", 2.0, 1, ""),
        Fitted("infrastructure.db.queries.event_by_id.with_index_ms", 3.0, 1, ""),
        Fitted("infrastructure.cache.l2_rtt_ms", 0.3, 1, ""),
    ]
    warmed = {f.path: f.value for f in warm(costs, cpu_div, db_div)}
    assert warmed["infrastructure.request_classes.event_detail.cpu_ms"] == pytest.approx(
        2.0 / cpu_div
    )
    assert warmed["infrastructure.db.queries.event_by_id.with_index_ms"] == pytest.approx(
        3.0 / db_div
    )
    assert warmed["infrastructure.cache.l2_rtt_ms"] == 0.3


def test_costs_that_do_not_fall_with_load_fit_no_wake_factor(tmp_path: Path) -> None:
    low, busy = _run(0.00046, 0.0019, 1_200, 3.0), _run(0.00046, 0.0019, 12_000, 18.0)
    fitted, cpu_div, db_div, skipped = wake_fit(low, tmp_path, busy, tmp_path, 0.04, 30)
    assert fitted == [] and cpu_div == db_div == 1.0
    assert len(skipped) == 2 and all("did not fall with load" in s for s in skipped)
    assert math.isfinite(cpu_div)


def test_a_load_run_that_is_not_a_directory_exits_2(tmp_path: Path) -> None:
    (tmp_path / "low").mkdir()
    result = subprocess.run(
        [*PERFCORE, "calibrate", str(tmp_path / "low"), "--out", str(tmp_path / "c.yaml"),
         "--load-run", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --load-run: {tmp_path / 'nowhere'} is not a directory"
    ]


def test_the_cpu_spread_is_the_busier_runs_when_the_core_wakes(tmp_path: Path) -> None:
    # L1 hits spread lognormal with sigma 0.2 in the busier run: its cv replaces the low run's.
    rng = np.random.default_rng(3)
    busy = _run(0.00025, 0.0015, 12_000, 18.0)
    h = Histogram({b: 0.0 for b in LATENCY_BUCKETS}, 0.0, 12_000)
    for v in 0.00025 * rng.lognormal(0.0, 0.2, 12_000):
        for b in LATENCY_BUCKETS:
            if v <= b:
                h.buckets[b] += 1
    busy.routes["GET /events/active"] = h
    spread = warm_spread(busy, 30)
    assert spread is not None and spread.path == "infrastructure.api.service_cv"
    assert spread.value == pytest.approx(math.sqrt(math.expm1(0.04)), rel=0.2)
    low_cv = Fitted("infrastructure.api.service_cv", 0.6, 1, "low run")
    assert warm([low_cv], 2.0, 1.0, spread) == [spread]
