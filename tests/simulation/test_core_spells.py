"""A core shared with other processes: their spells on the server's timer, queries slowed by sharing."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from simulation.calibrate_core import Fitted, shared_query_share, unshared
from simulation.measured import ServerDelta
from simulation.replay import Replayed, Trace, replay
from simulation.scenario import REQUEST_CLASSES, Scenario

SIZES = {"global": 1, "event": 40, "attendee": 2000, "session": 160}
STEPS = 5  # a registration: its query and three invalidations are steps on the event loop


def _served(times: list[float], job_ms: float, window: float = 0.0) -> Replayed:
    """Registrations sent at ``times``: 1 ms CPU, then a 2 ms query that is CPU on the core."""
    sc = Scenario.model_validate({"infrastructure": {
        "request_classes": {"register": {"cpu_ms": 1.0}},
        "db": {"core_share": 1.0, "service": "deterministic", "sharing_window_s": window,
               "queries": {"insert_registration": {"with_index_ms": 2.0, "without_index_ms": 2.0}}},
        "cache": {"l2_rtt_ms": 0.0},
        "api": {"slots_per_replica": 100, "cpus_per_replica": 1, "service": "deterministic",
                "auth_ms": 0.0, "job_core_ms": job_ms}}})  # fmt: skip
    t = np.asarray(times)
    cid = np.full(t.shape[0], REQUEST_CLASSES.index("register"), np.int8)
    return replay(sc, Trace(t, cid, np.arange(t.shape[0], dtype=np.int64) % 40, t[-1] + 1.0), SIZES)


def test_the_servers_own_backlog_is_partly_hidden_the_databases_spell_is_not() -> None:
    # The second arrives at 1.0005 and waits for the first's CPU (to 1.001: the server's
    # own backlog, which its timer sees only between the loop's steps) and then for the
    # first's query on the core (1.001-1.003: MariaDB shares the core with the started
    # handler and slows it by the overlap, at most by the handler's own 1 ms of CPU).
    served = _served([1.0, 1.0005], 0.0)
    assert served.latency_ms == pytest.approx([3.0, 2.5 + 3.0])
    assert served.handler_ms == pytest.approx([3.0, 3.0 + 1.0 + 1.5 * (1 - 1 / STEPS)])


def test_a_job_the_request_waits_for_slows_its_handler_by_its_cpu_at_most() -> None:
    # The first's job runs 1.003-1.008; the second, arriving at 1.004, waits 4 ms for it:
    # 1 ms (its CPU) on its timer as the sharing, the rest as the loop's backlog.
    served = _served([1.0, 1.004], 5.0)
    assert served.latency_ms == pytest.approx([3.0, 4.0 + 3.0])
    assert served.handler_ms == pytest.approx([3.0, 3.0 + 1.0 + 3.0 * (1 - 1 / STEPS)])


def test_a_query_on_a_busy_core_is_slowed_by_sharing_it() -> None:
    # The first left 3 ms of work on the core (1 ms CPU, its 2 ms query); 10 ms later,
    # decayed over the 50 ms window, the core is rho busy and the second's query takes
    # 2 ms / (1 - rho). With no window both take 3 ms.
    served = _served([1.0, 1.010], 0.0, window=0.05)
    rho = 0.003 * math.exp(-0.010 / 0.05) / 0.05
    assert served.latency_ms == pytest.approx([3.0, 1.0 + 2.0 / (1.0 - rho)])
    assert _served([1.0, 1.010], 0.0).latency_ms == pytest.approx([3.0, 3.0])


def test_calibration_takes_the_runs_sharing_out_of_the_query_times() -> None:
    # The stack kept its one core 20 % busy: a query all CPU on it took 1 / 0.8 as long.
    delta = ServerDelta({}, {}, {}, {}, {}, None, {"serve": 9.0, "mariadb": 3.0}, 1, 60.0)
    fitted = [
        Fitted("infrastructure.db.core_share", 1.0, 10, ""),
        Fitted("infrastructure.db.queries.event_by_id.with_index_ms", 5.0, 10, ""),
        Fitted("infrastructure.request_classes.event_detail.cpu_ms", 1.0, 10, ""),
    ]
    assert shared_query_share(fitted, Scenario()) == 1.0
    off = Scenario.model_validate({"infrastructure": {"db": {"sharing_window_s": 0.0}}})
    assert shared_query_share(fitted, off) == 0.0
    values = [f.value for f in unshared(fitted, delta, 1.0)]
    assert values == pytest.approx([1.0, 4.0, 1.0])
    half = [replace(fitted[0], value=0.5), fitted[1]]  # half of it CPU: 0.5 + 0.5 / 0.8
    assert unshared(half, delta, 0.5)[1].value == pytest.approx(5.0 / 1.125)
    assert unshared(fitted, ServerDelta({}, {}, {}, {}, {}, None), 1.0) == fitted  # not pinned
