"""The control loop, metrics sources and the local-processes actuator."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from k8s_apiserver import ApiServer

from perfcore.config import ScalingConfig
from perfcore.scaling.actuators import DryRunActuator, ReplicaStatus
from perfcore.scaling.loop import AutoScaler
from perfcore.scaling.metrics import CombinedSource, ProcessSource, PrometheusSource, Sample
from perfcore.scaling.policies import make_policy
from perfcore.scaling.processes import ProcessActuator


class ScriptedSource:
    def __init__(self, *samples: Sample | Exception) -> None:
        self.samples = list(samples)

    def read(self) -> Sample:
        item = self.samples.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class FlakyActuator:
    def __init__(self, replicas: int, failures: int = 0) -> None:
        self.replicas, self.failures, self.calls = replicas, failures, 0

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(self.replicas, self.replicas)

    def scale(self, replicas: int) -> None:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("api down")
        self.replicas = replicas

    def close(self) -> None:
        pass


def loop(
    source: Any, actuator: Any, alerts: list[str], *, dry_run: bool = False, **cfg: Any
) -> tuple[AutoScaler, io.StringIO]:
    clock = iter(float(t) for t in range(0, 10_000, 15))
    log = io.StringIO()
    policy = make_policy(ScalingConfig(min_replicas=1, **cfg))
    scaler = AutoScaler(
        policy,
        source,
        actuator,
        interval_s=0.0,
        dry_run=dry_run,
        log=log,
        alert=lambda message, record: alerts.append(message),
        clock=lambda: next(clock),
    )
    return scaler, log


def test_each_step_logs_one_json_line_with_metrics_decision_and_reason() -> None:
    alerts: list[str] = []
    actuator = FlakyActuator(2)
    scaler, log = loop(ScriptedSource(Sample(cpu=0.9), Sample(cpu=0.6)), actuator, alerts)
    scaler.step()
    scaler.step()
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [line["time"] for line in lines] == [0.0, 15.0]
    assert lines[0]["metrics"]["cpu"] == 0.9
    assert lines[0]["decision"]["action"] == "scale_up" and lines[0]["outcome"] == "applied"
    assert "cpu 0.9/0.6" in lines[0]["reason"]
    assert lines[1]["decision"]["action"] == "none" and actuator.replicas == 3
    assert alerts == []


def test_failures_alert_and_the_loop_keeps_running() -> None:
    alerts: list[str] = []
    actuator = FlakyActuator(2, failures=1)
    source = ScriptedSource(
        Sample(cpu=0.9), ValueError("exporter crashed"), Sample(errors=("cpu: timeout",)),
        Sample(cpu=0.9),
    )  # fmt: skip
    scaler, log = loop(source, actuator, alerts)
    stats = scaler.run(max_steps=4)
    assert stats.steps == 4 and stats.failures == 2
    assert [a.split(":")[0] for a in alerts] == [
        "scaling failed", "cannot read metrics", "metrics missing",
    ]  # fmt: skip
    assert actuator.replicas == 3  # the last step applied what the failed one could not
    outcomes = [json.loads(line)["outcome"] for line in log.getvalue().splitlines()]
    assert outcomes == ["failed", "failed", "unchanged", "applied"]


def test_dry_run_decides_but_does_not_act() -> None:
    alerts: list[str] = []
    inner = FlakyActuator(2)
    dry = DryRunActuator(inner)
    scaler, _ = loop(ScriptedSource(Sample(cpu=0.9)), dry, alerts, dry_run=True)
    record = scaler.step()
    assert record["decision"]["replicas"] == 3 and record["outcome"] == "dry-run: not applied"
    assert inner.calls == 0 and inner.replicas == 2


def test_prometheus_source_over_http() -> None:
    server = ApiServer()
    server.state.prometheus = {"cpu_seconds": 0.42, "nan": float("nan")}
    try:
        source = PrometheusSource(
            server.url, {"cpu": "rate(cpu_seconds[1m])", "memory": "nan", "request_rate": "none"}
        )
        sample = source.read()
        assert sample.cpu == 0.42 and sample.memory is None and sample.request_rate is None
        assert server.requests()[0].query == {"query": ["rate(cpu_seconds[1m])"]}
        down = PrometheusSource("http://127.0.0.1:9", {"cpu": "up"}).read()
        assert down.cpu is None and down.errors and down.errors[0].startswith("cpu:")
    finally:
        server.close()


def test_combined_source_fills_gaps_in_order() -> None:
    merged = CombinedSource(
        ScriptedSource(Sample(cpu=0.5, errors=("memory: gone",))),
        ScriptedSource(Sample(cpu=0.9, memory=0.3)),
    ).read()
    assert (merged.cpu, merged.memory, merged.errors) == (0.5, 0.3, ("memory: gone",))


@pytest.fixture
def sleepers() -> Iterator[ProcessActuator]:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    actuator = ProcessActuator(command, stop_timeout_s=5)
    yield actuator
    actuator.close()


def test_process_actuator_starts_and_stops_real_processes(sleepers: ProcessActuator) -> None:
    sleepers.scale(3)
    assert sleepers.status() == ReplicaStatus(3, 3)
    first = sleepers.pids()
    sleepers.scale(1)
    assert sleepers.pids() == first[:1]  # the newest go first
    assert sleepers.exit_codes == [-15, -15]  # stopped by SIGTERM


def test_process_source_reads_cpu_of_busy_workers() -> None:
    busy = ProcessActuator([sys.executable, "-c", "while True: pass"], stop_timeout_s=5)
    try:
        busy.scale(1)
        source = ProcessSource(busy.pids)
        first = source.read()
        assert first.cpu is None and first.memory is not None  # CPU needs two readings
        time.sleep(0.5)
        assert (source.read().cpu or 0) > 0.3
    finally:
        busy.close()
