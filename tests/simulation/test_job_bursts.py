"""A job worker pinned with the server: each job is one burst on the core, ahead of the queue."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.calibrate_core import job_fit
from simulation.measured import Histogram, ServerDelta
from simulation.replay import Trace, replay
from simulation.scenario import REQUEST_CLASSES, Scenario

SIZES = {"global": 1, "event": 40, "attendee": 2000, "session": 160}


def _latency(
    times: list[float],
    classes: list[str],
    job_ms: float,
    core_share: float = 1.0,
    wake: float = 0.0,
) -> np.ndarray:
    """Latency (ms) of writes sent at ``times``: 1 ms CPU + 2 ms query (on the core) each."""
    sc = Scenario.model_validate({"infrastructure": {
        "request_classes": {"register": {"cpu_ms": 1.0}, "check_in": {"cpu_ms": 1.0}},
        "db": {"core_share": core_share, "service": "deterministic", "sharing_window_s": 0.0,
               "queries": {"insert_registration": {"with_index_ms": 2.0, "without_index_ms": 2.0},
                           "insert_checkin": {"with_index_ms": 2.0, "without_index_ms": 2.0}}},
        "cache": {"l2_rtt_ms": 0.0},
        "api": {"slots_per_replica": 100, "cpus_per_replica": 1, "service": "deterministic",
                "auth_ms": 0.0, "job_core_ms": job_ms,
                "wake_factor": wake, "wake_gap_s": 0.001}}})  # fmt: skip
    t = np.asarray(times)
    cid = np.asarray([REQUEST_CLASSES.index(c) for c in classes], np.int8)
    trace = Trace(t, cid, np.arange(t.shape[0], dtype=np.int64) % 40, t[-1] + 1.0)
    return replay(sc, trace, SIZES).latency_ms


def test_a_job_runs_before_the_request_waiting_for_the_core() -> None:
    # A registration (one job each) holds the core 1.000-1.003; its job arrives at its
    # end and takes 5 ms, so a request arriving at 1.004 starts at 1.008.
    without = _latency([1.0, 1.004], ["register"] * 2, 0.0)
    with_job = _latency([1.0, 1.004], ["register"] * 2, 5.0)
    assert without == pytest.approx([3.0, 3.0])
    assert with_job == pytest.approx([3.0, 4.0 + 3.0])


def test_a_request_already_queued_when_the_job_arrives_goes_first() -> None:
    # The second is waiting when the first ends (1.003): it runs 1.003-1.006, then the
    # first's job 1.006-1.011 and the second's (arrived at 1.006) 1.011-1.016; the third,
    # arriving at 1.0035 behind the second, starts at 1.016.
    lat = _latency([1.0, 1.0025, 1.0035], ["register"] * 3, 5.0)
    assert lat == pytest.approx([3.0, 0.5 + 3.0, 12.5 + 3.0])


def test_a_job_that_finds_the_core_idle_pays_for_waking_it() -> None:
    # The query is off the core: the first registration's CPU (2 ms, the core woke from
    # a long sleep) ends at 1.002 and its job arrives at 1.004, after the core slept 2 ms
    # (1 - e^-2 of a full wake-up): 5 ms * 1.8647. The probe at 1.005 waits for it.
    lat = _latency([1.0, 1.005], ["register"] * 2, 5.0, core_share=0.0, wake=1.0)
    burst = 5.0 * (2.0 - math.exp(-2.0))
    assert lat == pytest.approx([4.0, (4.0 + burst - 5.0) + 3.0])
    plain = _latency([1.0, 1.005], ["register"] * 2, 5.0, core_share=0.0, wake=0.0)
    assert plain == pytest.approx([3.0, 4.0 + 3.0 - 1.0])  # the job ends at 1.009


def test_a_check_in_enqueues_a_job_seven_times_in_ten() -> None:
    # The platform: a check-in enqueues a real-time notification (0.2) or a dashboard
    # update (0.5), at most one. A probe 1 ms after each check-in waits for its job.
    n = 3000
    times, classes = [], []
    for i in range(n):
        times += [1.0 + i * 0.1, 1.0 + i * 0.1 + 0.004]
        classes += ["check_in", "register"]
    probes = _latency(times, classes, 5.0)[1::2]
    delayed = float(np.mean(probes > 3.5))
    assert delayed == pytest.approx(0.7, abs=0.03)
    assert set(np.round(probes, 6)) == {3.0, 7.0}


def _delta(cpu: dict[str, float], idle: dict[str, float]) -> ServerDelta:
    routes = {"POST /events/{event_id}/registrations": Histogram(count=100),  # one job each
              "POST /events/{event_id}/checkins": Histogram(count=50),  # 0.7 each
              "GET /events/{event_id}": Histogram(count=500)}  # fmt: skip
    return ServerDelta(routes, {}, {}, {}, {}, None, cpu, 1, 20.0, sum(idle.values()), idle)


def test_calibration_gives_the_workers_cpu_beyond_its_polling_to_the_jobs() -> None:
    fitted = job_fit(_delta({"worker": 1.0, "serve": 3.0}, {"worker": 0.01, "serve": 0.02}))
    assert fitted is not None and fitted.count == 135
    assert fitted.value == pytest.approx((1.0 - 0.01 * 20.0) * 1000 / 135)
    assert job_fit(_delta({"serve": 3.0}, {"serve": 0.02})) is None  # no job worker measured
