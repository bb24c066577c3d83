"""Calibration from server metrics, and trace replay: exact on synthetic inputs, closed forms."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from perfcore.errors import BadInput
from perfcore.service.metrics import LATENCY_BUCKETS
from simulation.calibrate import fit, overlay
from simulation.measured import read_server
from simulation.model.requests import L1_HIT, L2_HIT, MISS
from simulation.replay import Replayed, Trace, replay, trace_from_access_log, trace_from_locust
from simulation.scenario import REQUEST_CLASSES, Scenario, load_scenario

PERFCORE = [sys.executable, "-m", "perfcore"]


def _spread(lo_ms: float, hi_ms: float, count: int) -> list[float]:
    """``count`` values spread evenly inside one histogram bucket (seconds)."""
    return [(lo_ms + (hi_ms - lo_ms) * (k + 0.5) / count) / 1000 for k in range(count)]


def _metrics(directory: Path, n: int, misses: int) -> None:
    """metrics_before (empty) and metrics_after as the service would write them.

    Event pages: hits in the 1-1.5 ms bucket, misses in the 5-6.5 ms one; their
    queries in 2-3 ms; Redis GETs in 0.3-0.5 ms.
    """
    directory.mkdir(parents=True, exist_ok=True)
    reg = CollectorRegistry()
    http = Histogram("perfcore_http_request_duration_seconds", "x", ["method", "route"],
                     buckets=LATENCY_BUCKETS, registry=reg)  # fmt: skip
    db = Histogram(
        "perfcore_db_query_duration_seconds", "x", ["query"], buckets=LATENCY_BUCKETS, registry=reg
    )
    l2 = Histogram("perfcore_cache_l2_duration_seconds", "x", ["op"], buckets=LATENCY_BUCKETS,
                   registry=reg)  # fmt: skip
    res = Counter("perfcore_route_cache_results", "x", ["route", "result"], registry=reg)
    (directory / "metrics_before.prom").write_bytes(generate_latest(reg))
    for v in _spread(1.0, 1.5, n - misses) + _spread(5.0, 6.5, misses):
        http.labels("GET", "/events/{event_id}").observe(v)
    for v in _spread(0.3, 0.5, n):
        l2.labels("get").observe(v)
    for v in _spread(2.0, 3.0, misses):
        db.labels("event_by_id").observe(v)
    res.labels("/events/{event_id}", "miss").inc(misses)
    res.labels("/events/{event_id}", "hit").inc(n - misses)
    (directory / "metrics_after.prom").write_bytes(generate_latest(reg))


# 150 hits, 50 misses: the hits' median is the route's 0.375 quantile (1.25 ms), the
# misses' its 0.875 quantile (5.75 ms); rtt 0.4 ms, query 2.5 ms (medians).
HIT_MS, MISS_CPU_MS = 1.25, 5.75 - 1.25 - 2 * 0.4 - 2.5
# Both spreads are read between the median and the upper quartile (hits and queries alike:
# uniform in their buckets), and the model's fields are the lognormal's means.
SIGMA = math.log(1.375 / 1.25) / 0.6745
TO_MEAN = math.exp(SIGMA**2 / 2)


def test_cpu_is_fitted_from_the_hits_and_the_misses_medians(tmp_path: Path) -> None:
    _metrics(tmp_path, n=200, misses=50)
    fitted, skipped = fit(read_server(tmp_path), Scenario(), min_requests=30)
    values = {f.path: f for f in fitted}
    assert values["infrastructure.cache.l2_rtt_ms"].value == pytest.approx(0.4)
    query = values["infrastructure.db.queries.event_by_id.with_index_ms"]
    assert query.value == pytest.approx(2.5 * TO_MEAN)
    assert values["infrastructure.db.service"].value == "lognormal"
    assert values["infrastructure.db.service_cv"].value == pytest.approx(
        math.sqrt(math.expm1(SIGMA**2))
    )
    assert values["infrastructure.api.service"].value == "lognormal"
    cpu = values["infrastructure.request_classes.event_detail.cpu_ms"]
    assert cpu.value == pytest.approx(HIT_MS * TO_MEAN) and cpu.count == 200
    more = values["infrastructure.request_classes.event_detail.miss_cpu_ms"]
    assert more.value == pytest.approx(MISS_CPU_MS * TO_MEAN) and more.count == 50
    assert any("session_by_id" in s for s in skipped)
    (tmp_path / "cal.yaml").write_text(json.dumps(overlay(fitted)))
    calibrated = load_scenario(None, config_path=tmp_path / "cal.yaml")
    infra = calibrated.infrastructure
    assert infra.request_classes["event_detail"].cpu_ms == pytest.approx(cpu.value, abs=1e-3)
    assert infra.api.service == infra.db.service == "lognormal"
    assert infra.db.queries["event_by_id"].without_index_ms == 25.0  # untouched default kept
    assert infra.request_classes["register"].cpu_ms == 30.0


def test_a_lognormal_spread_is_recovered_from_the_histograms(tmp_path: Path) -> None:
    # L1 hits and queries drawn lognormal with sigma 0.4, observed into the server's buckets.
    rng = np.random.default_rng(7)
    reg = CollectorRegistry()
    http = Histogram("perfcore_http_request_duration_seconds", "x", ["method", "route"],
                     buckets=LATENCY_BUCKETS, registry=reg)  # fmt: skip
    db = Histogram(
        "perfcore_db_query_duration_seconds", "x", ["query"], buckets=LATENCY_BUCKETS, registry=reg
    )
    res = Counter("perfcore_route_cache_results", "x", ["route", "result"], registry=reg)
    lookups = Counter("perfcore_cache_lookups", "x", ["tier", "namespace", "result"], registry=reg)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "metrics_before.prom").write_bytes(generate_latest(reg))
    for v in 0.0004 * rng.lognormal(0.0, 0.4, 4000):
        http.labels("GET", "/events/active").observe(v)
    for v in 0.002 * rng.lognormal(0.0, 0.4, 4000):
        db.labels("event_by_id").observe(v)
    res.labels("/events/active", "hit").inc(4000)
    lookups.labels("l1", "active_events", "hit").inc(4000)
    (tmp_path / "metrics_after.prom").write_bytes(generate_latest(reg))
    fitted, _ = fit(read_server(tmp_path), Scenario(), min_requests=30)
    values = {f.path: f.value for f in fitted}
    cv = math.sqrt(math.expm1(0.4**2))
    assert values["infrastructure.api.service_cv"] == pytest.approx(cv, rel=0.15)
    assert values["infrastructure.db.service_cv"] == pytest.approx(cv, rel=0.15)
    # The model's means: a median of 2 ms with sigma 0.4 has a mean of 2 * exp(0.08).
    mean = values["infrastructure.db.queries.event_by_id.with_index_ms"]
    assert mean == pytest.approx(2.0 * math.exp(0.08), rel=0.05)


def test_too_small_or_missing_measurements_exit_2_naming_them(tmp_path: Path) -> None:
    _metrics(tmp_path / "small", n=5, misses=1)
    for measured, words in (
        (tmp_path / "small", "no request class has 30"),
        (tmp_path, "metrics_before.prom"),
    ):
        result = subprocess.run(
            [*PERFCORE, "calibrate", str(measured), "--out", str(tmp_path / "c.yaml")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2 and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    with pytest.raises(BadInput, match="metrics_after"):
        (tmp_path / "metrics_before.prom").write_text("")
        read_server(tmp_path)


def test_locust_counts_are_replayed_exactly() -> None:
    entries = [
        {"name": "/events/{event_id}", "method": "GET", "num_reqs_per_sec": {"100": 3, "102": 5}},
        {"name": "/events/{event_id}/checkins", "method": "POST", "num_reqs_per_sec": {"101": 2}},
        {"name": "/elsewhere", "method": "GET", "num_reqs_per_sec": {"100": 9}},
    ]
    trace = trace_from_locust(entries)
    assert trace.duration_s == 3 and trace.time.shape[0] == 10
    seconds = np.floor(trace.time).astype(int).tolist()
    assert seconds.count(0) == 3 and seconds.count(1) == 2 and seconds.count(2) == 5


def test_replay_of_an_mm1_stream_matches_the_closed_form() -> None:
    # export_report: no query, uncached; 1 CPU, exponential 40 ms at 10/s -> rho 0.4.
    sc = Scenario.model_validate({"infrastructure": {
        "request_classes": {"export_report": {"cpu_ms": 40.0}},
        "api": {"slots_per_replica": 1000, "cpus_per_replica": 1}}})  # fmt: skip
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.exponential(0.1, 40_000))
    cid = list(sc.infrastructure.request_classes).index("export_report")
    trace = Trace(
        times,
        np.full(times.shape[0], cid, np.int8),
        np.full(times.shape[0], -1),
        float(times[-1]) + 1,
    )
    rep = replay(sc, trace, {"global": 1, "event": 40, "attendee": 2000, "session": 160})
    assert rep.latency_ms.shape[0] == 40_000
    expected = 1000 / (1 / 0.040 - 10)  # M/M/1 sojourn: 1 / (mu - lambda)
    assert float(rep.latency_ms.mean()) == pytest.approx(expected, rel=0.08)
    assert math.isclose(
        float(np.percentile(rep.latency_ms, 95)), expected * math.log(20), rel_tol=0.12
    )


def test_an_access_log_is_replayed_with_its_ids_as_keys(tmp_path: Path) -> None:
    log = tmp_path / "access.csv"
    log.write_text(
        "timestamp,method,path\n"
        "1700000000.5,GET,/events/7\n"
        "2023-11-14T22:13:21,get,/sessions/12?x=1\n"
        "1700000002,GET,/static/app.js\n"
        "1700000003,POST,/events/7/checkins\n"
    )
    trace = trace_from_access_log(log)
    assert trace.time.shape[0] == 3 and trace.key.tolist()[0] == 6
    bad = tmp_path / "bad.csv"
    bad.write_text("when,method,path\n1,GET,/events/1\n")
    with pytest.raises(BadInput, match="timestamp"):
        trace_from_access_log(bad)


def test_simulate_reports_latency_and_hit_ratio_per_class() -> None:
    from simulation.run import simulate

    sc = Scenario.model_validate({"horizon_s": 600, "workload": {"events": {"count": 0}, "streams": [
        {"request_class": "event_detail", "rate_per_s": 20.0, "keys": 5},
        {"request_class": "register", "rate_per_s": 2.0, "keys": 100}]}})  # fmt: skip
    summary = simulate(sc).summary()
    by_class = summary["latency_by_class_ms"]
    assert set(by_class) == {"event_detail", "register"}
    for row in by_class.values():
        assert 0 < row["p50"] <= row["p95"] <= row["p99"]
    assert (
        0.5 < by_class["event_detail"]["hit_ratio"] < 1 and by_class["register"]["hit_ratio"] == 0
    )
    assert summary["latency_ms"]["p99"] >= by_class["event_detail"]["p50"]  # contract keys stay


# ------------------------------------------- a core shared with co-located work

SIZES = {"global": 1, "event": 40, "attendee": 2000, "session": 160}


def _mm1(
    shared_ms: float,
    rate: float = 10.0,
    n: int = 40_000,
    background: float = 0.0,
    handoff: float = 0.0,
) -> Replayed:
    # export_report: no query, uncached; 1 CPU, exponential 40 ms.
    sc = Scenario.model_validate({"infrastructure": {
        "request_classes": {"export_report": {"cpu_ms": 40.0}},
        "api": {"slots_per_replica": 1000, "cpus_per_replica": 1, "shared_core_ms": shared_ms,
                "background_core": background, "handoff_ms": handoff}}})  # fmt: skip
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.exponential(1 / rate, n))
    cid = REQUEST_CLASSES.index("export_report")
    trace = Trace(times, np.full(n, cid, np.int8), np.full(n, -1), float(times[-1]) + 1)
    return replay(sc, trace, SIZES)


def test_shared_work_queues_the_requests_behind_but_not_its_own() -> None:
    # The core serves X = S + d per request (S ~ exp(40 ms), d = 20 ms held after the
    # burst): Pollaczek-Khinchine wait lam E[X^2] / (2 (1 - rho)), then only S of its own.
    s, d, lam = 0.040, 0.020, 10.0
    ex2 = 2 * s * s + 2 * s * d + d * d
    expected_ms = 1000 * (lam * ex2 / (2 * (1 - lam * (s + d))) + s)
    lat = _mm1(20.0).latency_ms
    assert float(lat.mean()) == pytest.approx(expected_ms, rel=0.08)
    assert float(lat.mean()) > 1.4 * float(_mm1(0.0).latency_ms.mean())
    # Alone on the core (a trickle), a request's latency is its own burst only.
    assert float(_mm1(20.0, rate=0.2, n=2_000).latency_ms.mean()) == pytest.approx(40.0, rel=0.1)


def _stack_cpu(
    directory: Path, cpu: dict[str, float], cpus: list[int], idle: float | None = None
) -> None:
    data: dict[str, object] = {"wall_s": 20.0, "pinning": {"stack_cpus": cpus},
                               "processes": {k: {"cpu_s": v} for k, v in cpu.items()}}  # fmt: skip
    if idle is not None:  # CPU-s per s with no traffic, over a 5 s spell
        data["idle"] = {"wall_s": 5.0, "processes": {"worker": {"cpu_s": idle * 5.0}}}
    (directory / "stack_cpu.json").write_text(json.dumps(data))


def test_background_is_the_idle_stack_and_stretches_the_core() -> None:
    # A core 20 % busy with other work serves exp(40 ms) bursts at 10/s as M/M/1
    # with 50 ms: 1 / (mu - lambda) = 100 ms.
    assert float(_mm1(0.0, background=0.2).latency_ms.mean()) == pytest.approx(100.0, rel=0.08)


def test_calibration_takes_the_background_out_before_sharing_the_rest(tmp_path: Path) -> None:
    _metrics(tmp_path, n=200, misses=50)
    _stack_cpu(tmp_path, {"serve": 0.9, "mariadb": 0.2, "worker": 0.3}, [1], idle=0.01)
    values = {f.path: f.value for f in fit(read_server(tmp_path), Scenario(), 30)[0]}
    assert values["infrastructure.api.background_core"] == pytest.approx(0.01)
    # The route's time at low load held the background's preemption: taken out.
    assert values["infrastructure.request_classes.event_detail.cpu_ms"] == pytest.approx(
        HIT_MS * TO_MEAN * 0.99
    )
    handlers_s = (200 * HIT_MS + 50 * MISS_CPU_MS) * TO_MEAN * 0.99 / 1000
    beyond = 1.4 - 0.01 * 20.0 - handlers_s
    queries_s = 50 * 2.5 * TO_MEAN / 1000  # all of the queries' time is on the core ...
    assert values["infrastructure.db.core_share"] == pytest.approx(1.0)
    # ... and the rest is shared work per request.
    assert values["infrastructure.api.shared_core_ms"] == pytest.approx(
        (beyond - queries_s) * 1000 / 200
    )


def test_queries_take_the_stack_cpu_beyond_the_handlers_first(tmp_path: Path) -> None:
    _metrics(tmp_path, n=200, misses=50)
    handlers_s = (200 * HIT_MS + 50 * MISS_CPU_MS) * TO_MEAN / 1000
    # 0.05 s beyond the handlers, for 0.125 s of queries: 40 % of their time is core CPU.
    _stack_cpu(tmp_path, {"serve": handlers_s, "mariadb": 0.05}, [1])
    values = {f.path: f.value for f in fit(read_server(tmp_path), Scenario(), 30)[0]}
    assert values["infrastructure.db.core_share"] == pytest.approx(0.4 / TO_MEAN)
    assert values["infrastructure.api.shared_core_ms"] == pytest.approx(0.0, abs=1e-9)
    # Spread over two CPUs the stack does not share the server's core: nothing fitted.
    _stack_cpu(tmp_path, {"serve": 0.9, "mariadb": 0.2}, [0, 1])
    paths = {f.path for f in fit(read_server(tmp_path), Scenario(), 30)[0]}
    assert not paths & {"infrastructure.api.shared_core_ms", "infrastructure.db.core_share"}


def test_a_capacity_below_the_cpu_bound_becomes_handoff_time(tmp_path: Path) -> None:
    _metrics(tmp_path, n=200, misses=50)
    _stack_cpu(tmp_path, {"serve": 0.6, "mariadb": 0.2}, [1])  # 4 ms of CPU per request
    fitted = {f.path: f.value for f in fit(read_server(tmp_path), Scenario(), 30, 125.0)[0]}
    # Saturated at 125 req/s: the core is held 8 ms per request, 4 of them computing.
    assert fitted["infrastructure.api.handoff_ms"] == pytest.approx(4.0)
    # At or above the CPU bound nothing is held beyond the CPU.
    fitted = {f.path: f.value for f in fit(read_server(tmp_path), Scenario(), 30, 300.0)[0]}
    assert fitted["infrastructure.api.handoff_ms"] == 0.0
    assert "infrastructure.api.handoff_ms" not in {
        f.path for f in fit(read_server(tmp_path), Scenario(), 30)[0]
    }


def test_handoff_time_holds_the_core_like_shared_work() -> None:
    # Held after the burst, the hand-off queues the requests behind exactly as shared work.
    held = _mm1(0.0, handoff=20.0).latency_ms.mean()
    assert float(held) == pytest.approx(float(_mm1(20.0).latency_ms.mean()), rel=1e-9)


def test_a_check_in_on_the_last_event_replays_within_the_session_keys() -> None:
    # The seed has 4 sessions per event (160 keys); a check-in marks its event's block stale.
    n = 2_000
    times = np.linspace(0.0, 20.0, n)
    cls = np.asarray(
        [REQUEST_CLASSES.index("check_in" if i % 2 else "session_page") for i in range(n)],
        np.int8,
    )
    rep = replay(Scenario(), Trace(times, cls, np.full(n, -1), 21.0), SIZES)
    assert rep.latency_ms.shape[0] == n and bool(np.isfinite(rep.latency_ms).all())


def test_the_servers_timer_starts_with_the_handler_not_the_arrival() -> None:
    # M/M/1 at rho 0.4 with no query: the server times only the burst itself
    # (exp 40 ms); the client sees the wait for the core too (1 / (mu - lambda)).
    rep = _mm1(0.0)
    lat, handler = rep.latency_ms, rep.handler_ms
    assert float(handler.mean()) == pytest.approx(40.0, rel=0.05)
    assert float(lat.mean()) == pytest.approx(1000 / (1 / 0.040 - 10), rel=0.08)
    assert bool((handler <= lat + 1e-9).all())


def _detail_reads(infra: dict[str, object], n: int, rate: float) -> Replayed:
    sc = Scenario.model_validate({"infrastructure": infra})
    times = np.cumsum(np.random.default_rng(7).exponential(1 / rate, n))
    cid = REQUEST_CLASSES.index("event_detail")
    keys = np.arange(n) % 40  # the seed's 40 events
    return replay(sc, Trace(times, np.full(n, cid, np.int8), keys, float(times[-1]) + 1), SIZES)


def test_queries_on_the_core_queue_there() -> None:
    # No cache: every page runs its query (exp 40 ms) at 10/s. Beside the core on 50
    # connections it is ~M/M/50 (40 ms); all of it on the one core (queued for it, not
    # slowed by sharing it), M/M/1 (1/(mu - lam)).
    query = {"event_by_id": {"with_index_ms": 40.0, "without_index_ms": 40.0}}
    base: dict[str, object] = {"cache": {"enabled": False},
                               "request_classes": {"event_detail": {"cpu_ms": 0.001}}}  # fmt: skip
    beside = _detail_reads({**base, "db": {"connections": 50, "queries": query}}, 20_000, 10.0)
    on_core = _detail_reads(
        {
            **base,
            "db": {"connections": 50, "queries": query, "core_share": 1.0, "sharing_window_s": 0.0},
        },
        20_000,
        10.0,
    )
    beside, on_core = beside.latency_ms.mean(), on_core.latency_ms.mean()
    assert float(beside) == pytest.approx(40.0, rel=0.05)
    assert float(on_core) == pytest.approx(1000 / (1 / 0.040 - 10), rel=0.08)


def test_the_servers_timer_sees_the_waits_after_its_first_step() -> None:
    # An uncached page with a query takes two steps on the event loop (the start, and
    # the resumption when the query returns), so the server's timer sees half of the
    # wait for the core: M/M/1 at rho 0.4, exp 40 ms bursts, a query of 1 us.
    infra: dict[str, object] = {
        "cache": {"enabled": False},
        "request_classes": {"event_detail": {"cpu_ms": 40.0}},
        "api": {"slots_per_replica": 1000, "cpus_per_replica": 1},
        "db": {"queries": {"event_by_id": {"with_index_ms": 0.001, "without_index_ms": 0.001}}},
    }
    rep = _detail_reads(infra, 40_000, 10.0)
    wait = 1000 / (1 / 0.040 - 10) - 40.0
    assert float(rep.latency_ms.mean()) == pytest.approx(40.0 + wait, rel=0.08)
    assert float(rep.handler_ms.mean()) == pytest.approx(40.0 + wait / 2, rel=0.08)


def test_a_miss_pays_its_extra_cpu_and_a_hit_does_not() -> None:
    # 40 first reads miss (one per event), the next 40 hit; a trickle, no queueing.
    infra: dict[str, object] = {"request_classes": {"event_detail": {"cpu_ms": 1.0}}}
    plain = _detail_reads(infra, 80, 0.5)
    infra = {"request_classes": {"event_detail": {"cpu_ms": 1.0, "miss_cpu_ms": 3.0}}}
    more = _detail_reads(infra, 80, 0.5)
    assert (plain.level[:40] == MISS).all() and np.isin(plain.level[40:], [L1_HIT, L2_HIT]).all()
    np.testing.assert_allclose(more.latency_ms[:40] - plain.latency_ms[:40], 3.0, atol=1e-6)
    np.testing.assert_allclose(more.latency_ms[40:], plain.latency_ms[40:], atol=1e-9)
