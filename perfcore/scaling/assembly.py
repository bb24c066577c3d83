"""Wiring: from a config and a few command-line choices to a ready :class:`AutoScaler`.

Kept apart from the loop so the loop stays testable with in-memory parts, and
apart from the CLI so scripts can build the same loop without click.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from perfcore.config import PerfcoreConfig
from perfcore.errors import BadInput
from perfcore.scaling.actuators import Actuator, DryRunActuator
from perfcore.scaling.loop import AutoScaler, LineSink, stderr_alert, webhook_alert
from perfcore.scaling.metrics import (
    BullMQBacklogSource,
    MetricsSource,
    ProcessSource,
    PrometheusSource,
)
from perfcore.scaling.policies import make_policy


@dataclass(frozen=True)
class LoopOptions:
    actuator: Literal["k8s", "processes"]
    dry_run: bool = False
    metrics: str = "auto"
    prometheus_url: str | None = None
    redis_url: str | None = None
    worker_command: list[str] | None = None
    kubeconfig: str | None = None
    alert_webhook: str | None = None
    decisions_file: Path | None = None


def worker_argv(command: list[str]) -> list[str]:
    """``perfcore ...`` runs with this interpreter, so a venv need not be on PATH."""
    if command and command[0] == "perfcore":
        return [sys.executable, "-m", "perfcore", *command[1:]]
    return command


class _Tee:
    """Decision lines to stderr and, with ``--out``, to a JSON-lines file."""

    def __init__(self, *streams: IO[str]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def build_autoscaler(
    config: PerfcoreConfig, options: LoopOptions
) -> tuple[AutoScaler, Callable[[], None]]:
    """The loop and a cleanup function (stops workers, closes clients and files)."""
    scaling = config.scaling
    actuator: Actuator
    pids: Callable[[], list[int]] = list
    if options.actuator == "k8s":
        if not scaling.deployment:
            raise BadInput("scaling.deployment: required for --actuator k8s (--deployment NAME)")
        from perfcore.scaling.k8s import KubernetesActuator, api_client_from_environment

        k8s = KubernetesActuator(
            scaling.namespace,
            scaling.deployment,
            api_client=api_client_from_environment(options.kubeconfig),
        )
        k8s.check_not_managed_by_hpa()
        actuator = DryRunActuator(k8s) if options.dry_run else k8s
    elif options.dry_run:
        actuator = DryRunActuator(replicas=scaling.min_replicas)
    else:
        from perfcore.scaling.processes import ProcessActuator

        procs = ProcessActuator(
            worker_argv(options.worker_command or scaling.worker_command),
            stop_timeout_s=scaling.worker_stop_timeout_s,
        )
        actuator, pids = procs, procs.pids

    source = _source(config, options, pids)
    alert = webhook_alert(options.alert_webhook) if options.alert_webhook else stderr_alert
    decisions = None
    if options.decisions_file is not None:
        options.decisions_file.parent.mkdir(parents=True, exist_ok=True)
        decisions = options.decisions_file.open("a", encoding="utf-8")
    log: LineSink = _Tee(sys.stderr, decisions) if decisions is not None else sys.stderr
    autoscaler = AutoScaler(
        make_policy(scaling),
        source,
        actuator,
        interval_s=scaling.interval_s,
        dry_run=options.dry_run,
        log=log,
        alert=alert,
    )

    def cleanup() -> None:
        actuator.close()
        if decisions is not None:
            decisions.close()

    return autoscaler, cleanup


def _source(
    config: PerfcoreConfig, options: LoopOptions, pids: Callable[[], list[int]]
) -> MetricsSource:
    scaling = config.scaling
    kind = options.metrics
    if kind == "auto":
        if options.actuator == "k8s":
            kind = "prometheus"
        elif scaling.policy == "queue-backlog":
            kind = "bullmq"
        else:
            kind = "process"
    if kind == "prometheus":
        url = options.prometheus_url or scaling.prometheus_url
        if scaling.deployment:
            return PrometheusSource.for_deployment(
                url, scaling.namespace, scaling.deployment, scaling.prometheus_queries
            )
        if not scaling.prometheus_queries:
            raise BadInput("scaling.prometheus_queries: required without a deployment")
        return PrometheusSource(url, scaling.prometheus_queries)
    if kind == "bullmq":
        return BullMQBacklogSource(
            config.queues, queues=scaling.backlog_queues, redis_url=options.redis_url
        )
    return ProcessSource(pids)
