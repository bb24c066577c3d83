"""Tuning speed: a 50-trial tune of the flash crowd, 3 seeds per trial, confirmation included.

Three ways of running the same study, side by side in one session, on the
same trials' worth of work:

* ``baseline``: every trial simulates the full horizon, one process;
* ``screening``: trials run on the busiest hour, the leaders on the full day
  (multi-fidelity), one process;
* ``screening + jobs``: the same with trials in two local processes.

The two cheaper ways are run on ``PROBE_TRIALS`` trials; each run's time splits
into a per-trial part (screening) and a fixed part (the start's and the
leaders' full days, the confirmation), so every way's 50-trial wall time is
``fixed + 50 x per_trial``. The final configuration is also run for real with
all 50 trials. Ratios printed: each factor's share of the speed-up, and the
50-trial wall time against the 10-minute budget. The engine's own speed
(simulated requests per wall second on the default day) is
``benchmarks/test_simulation_bench.py``'s; this file reports the figure it
measures for the flash crowd so the engine's share is visible too.

Run: ``.venv/bin/pytest benchmarks/test_tune_bench.py -s -p no:cacheprovider``
(``PERFCORE_TUNE_BENCH_TRIALS`` changes the 50). On a machine shared with
other work the wall times are pessimistic; the ratios much less so.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulation.run import simulate
from simulation.scenario import load_scenario
from simulation.tune import tune

FLASH = Path(__file__).resolve().parents[1] / "simulation" / "scenarios" / "flash_crowd.yaml"
TRIALS = int(os.environ.get("PERFCORE_TUNE_BENCH_TRIALS", "50"))
PROBE_TRIALS = 4
BUDGET_S = 600.0


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the trial processes)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run(trials: int, *, screen: bool, jobs: int) -> tuple[float, float, Any]:
    """(per-trial seconds, fixed seconds, result) of one tune of the flash crowd."""
    cpu0, load0 = _cpu_seconds(), os.getloadavg()[0]
    started = time.perf_counter()
    result = tune(load_scenario(FLASH), trials=trials, seeds=3, confirm_seeds=3, leaders=3,
                  screen=screen, jobs=jobs)  # fmt: skip
    wall = time.perf_counter() - started
    print(f"  {trials} trials, screen={screen}, jobs={jobs}: wall {wall:.0f} s, CPU"
          f" {_cpu_seconds() - cpu0:.0f} s, load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")  # fmt: skip
    per_trial = result.timings["screening"] / trials
    return per_trial, wall - result.timings["screening"], result


@pytest.mark.timeout(7200)  # minutes of tuning on purpose: the suite's per-test bound is shorter
def test_tune_speed(report_ratio: Callable[..., None]) -> None:
    engine = simulate(load_scenario(FLASH))
    rps = engine.platform.requests / engine.wall_seconds
    print(f"\nengine: {rps:,.0f} simulated req/s on the flash crowd ({engine.platform.requests:,})")

    base_trial, base_fixed, _ = _run(PROBE_TRIALS, screen=False, jobs=1)
    screen_trial, screen_fixed, _ = _run(PROBE_TRIALS, screen=True, jobs=1)
    started = time.perf_counter()
    par_trial, par_fixed, result = _run(TRIALS, screen=True, jobs=2)
    final_wall = time.perf_counter() - started

    def projected(per_trial: float, fixed: float) -> float:
        return fixed + TRIALS * per_trial

    baseline = projected(base_trial, base_fixed)
    screened = projected(screen_trial, screen_fixed)
    for name, per_trial, fixed, wall in (
        ("baseline (full horizon, 1 process)", base_trial, base_fixed, baseline),
        ("screening (busiest hour, 1 process)", screen_trial, screen_fixed, screened),
        ("screening + 2 processes (measured)", par_trial, par_fixed, final_wall),
    ):
        print(f"{name}: {per_trial:.1f} s/trial + {fixed:.1f} s fixed -> {wall:.0f} s")
    total = baseline / final_wall
    report_ratio("tune: speed-up from multi-fidelity screening", baseline / screened, 1.0,
                 better="higher", detail=f"{baseline:.0f} s -> {screened:.0f} s for {TRIALS} trials")  # fmt: skip
    report_ratio("tune: speed-up from 2 trial processes", screened / final_wall, 1.0,
                 better="higher", detail=f"{screened:.0f} s -> {final_wall:.0f} s")  # fmt: skip
    report_ratio("tune: engine speed-up (unchanged engine)", 1.0, 1.0, better="higher",
                 detail=f"{rps:,.0f} req/s")  # fmt: skip
    report_ratio("tune: total speed-up over the baseline", total, 1.0, better="higher")
    report_ratio(f"tune: {TRIALS}-trial wall / 10-minute budget", final_wall / BUDGET_S, 1.0,
                 detail=f"{final_wall:.0f} s, 3 seeds per trial, confirmation included")  # fmt: skip
    assert len([r for r in result.rows if r.screen is not None]) >= TRIALS - 1
