"""A query whose time is on the server's core: it holds the core, and only later requests wait."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.replay import Trace, replay
from simulation.scenario import REQUEST_CLASSES, Scenario

SIZES = {"global": 1, "event": 40, "attendee": 2000, "session": 160}


def _register(times: list[float], shared_ms: float) -> np.ndarray:
    """Server-side latency (ms) of registrations sent at ``times``, 1 ms CPU + 2 ms query."""
    sc = Scenario.model_validate({"infrastructure": {
        "request_classes": {"register": {"cpu_ms": 1.0}},
        "db": {"core_share": 1.0, "service": "deterministic", "sharing_window_s": 0.0,
               "queries": {"insert_registration": {"with_index_ms": 2.0, "without_index_ms": 5.0}}},
        "cache": {"l2_rtt_ms": 0.0},
        "api": {"slots_per_replica": 100, "cpus_per_replica": 1, "service": "deterministic",
                "auth_ms": 0.0, "shared_core_ms": shared_ms}}})  # fmt: skip
    t = np.asarray(times)
    cid = REQUEST_CLASSES.index("register")
    trace = Trace(t, np.full(t.shape[0], cid, np.int8), np.zeros(t.shape[0], np.int64), 10.0)
    return replay(sc, trace, SIZES).latency_ms


def test_a_request_does_not_wait_for_its_own_shared_work() -> None:
    # Alone: its CPU and its query, whatever the shared work it leaves on the core.
    assert _register([1.0], 0.0)[0] == pytest.approx(3.0)
    assert _register([1.0], 5.0)[0] == pytest.approx(3.0)


def test_the_next_request_waits_for_the_core_the_first_one_holds() -> None:
    # The second arrives 1 ms later; the core is busy with the first's CPU, query and
    # shared work until 1 + 2 + 5 = 8 ms: it starts then and takes its own 3 ms.
    first, second = _register([1.0, 1.001], 5.0)
    assert first == pytest.approx(3.0)
    assert second == pytest.approx(8.0 - 1.0 + 3.0)
