"""``perfcore scale``: one scaling decision (``decide``) or the control loop (``run``).

\b
  perfcore scale decide --policy target-tracking \\
      --state '{"current_replicas": 4, "metrics": {"cpu": 0.9}}' --json
  perfcore scale run --policy seed --actuator k8s --namespace web --deployment api --dry-run
  perfcore scale run --policy queue-backlog --actuator processes --interval 5
"""

from __future__ import annotations

import shlex
import signal
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import Field

from perfcore.cli_options import (
    config_option,
    emit,
    json_option,
    out_option,
    redis_option,
    set_option,
)
from perfcore.config import (
    MAX_INPUT_BYTES,
    MAX_REPLICAS,
    ConfigError,
    ScalingConfig,
    Section,
    load_config,
    parse_json,
    read_text_file,
    validate_model,
)
from perfcore.errors import BadInput, ServiceUnavailable
from perfcore.scaling.policies import POLICIES, Observation, PolicyHistory, make_policy

policy_option = click.option(
    "--policy", type=click.Choice(sorted(POLICIES)), default=None, help="default: scaling.policy"
)


@click.group()
def scale() -> None:
    """Autoscaler: one decision, or the control loop against Kubernetes or local workers."""


# -------------------------------------------------------------------- decide


class StateMetrics(Section):
    # Utilisations may exceed 1 (a pod above its CPU request); the bounds only
    # keep a typo from asking for astronomically many replicas.
    cpu: float | None = Field(None, ge=0, le=1000)
    memory: float | None = Field(None, ge=0, le=1000)
    request_rate: float | None = Field(None, ge=0, le=1e12)
    queue_backlog: float | None = Field(None, ge=0, le=1e15)


class StateHistory(Section):
    recommendations: list[tuple[float, int]] = Field(default_factory=list)
    events: list[tuple[float, int, int]] = Field(default_factory=list)


class DecideState(Section):
    """What ``decide --state`` accepts: the moment to decide for, and what came before."""

    now: float = 0.0
    current_replicas: int = Field(ge=0, le=MAX_REPLICAS)
    ready_replicas: int | None = Field(
        None, ge=0, le=MAX_REPLICAS, description="default: current_replicas"
    )
    metrics: StateMetrics = Field(default_factory=StateMetrics)
    targets: dict[str, Any] = Field(default_factory=dict, description="scaling.* overrides")
    history: StateHistory = Field(default_factory=StateHistory)
    baseline_request_rate: float | None = Field(None, gt=0, le=1e12)


def _scaling(
    config_path: Path | None, overrides: tuple[str, ...], policy: str | None
) -> ScalingConfig:
    extra = [f"scaling.policy={policy}"] if policy else []
    return load_config(config_path, [*overrides, *extra]).scaling


def _parse_state(raw: str) -> DecideState:
    source = "--state"
    if raw.startswith("@"):
        source = f"--state {raw[1:]}"
        try:
            raw = read_text_file(Path(raw[1:]))
        except ConfigError as exc:
            raise BadInput(f"--state: {exc}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise BadInput(f"--state: too large (more than {MAX_INPUT_BYTES} characters)")
    data = parse_json(raw, source)
    try:
        return validate_model(DecideState, data)
    except ConfigError as exc:
        raise BadInput(f"state.{exc}") from None


@scale.command()
@policy_option
@click.option("--state", "state_raw", required=True, help="JSON object, or @file")
@config_option
@set_option
@json_option
@out_option
def decide(
    policy: str | None,
    state_raw: str,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """One decision for a given state (current replicas, metrics, targets, history).

    The output includes the updated history: feed it back as the next state's
    ``history`` to replay a sequence from a script.
    """
    state = _parse_state(state_raw)
    base = _scaling(config_path, overrides, policy)
    try:
        config = validate_model(ScalingConfig, {**base.model_dump(), **state.targets})
    except ConfigError as exc:
        raise BadInput(f"state.targets.{exc}") from None
    history = PolicyHistory.from_json(state.history.model_dump())
    engine = make_policy(config, baseline_request_rate=state.baseline_request_rate, history=history)
    ready = state.current_replicas if state.ready_replicas is None else state.ready_replicas
    obs = Observation(
        now=state.now,
        current_replicas=state.current_replicas,
        ready_replicas=min(ready, state.current_replicas),
        **state.metrics.model_dump(),
    )
    decision = engine.decide(obs)
    payload = {
        "policy": engine.name,
        "current_replicas": state.current_replicas,
        "replicas": decision.replicas,
        "action": decision.action(state.current_replicas),
        "recommended": decision.recommended,
        "reason": decision.reason,
        "history": engine.history.to_json(),
    }
    text = (
        f"{payload['action']}: {state.current_replicas} -> {decision.replicas} ({decision.reason})"
    )
    emit(payload, as_json=as_json, out=out, stem="decision", text=text)


# ----------------------------------------------------------------------- run


@scale.command()
@policy_option
@click.option("--actuator", type=click.Choice(["k8s", "processes"]), required=True)
@click.option("--namespace", default=None, help="k8s: default scaling.namespace")
@click.option("--deployment", default=None, help="k8s: default scaling.deployment")
@click.option("--kubeconfig", default=None, help="k8s: outside a cluster; default ~/.kube/config")
@click.option("--dry-run", is_flag=True, help="read and decide, never change replicas")
@click.option("--interval", type=click.FloatRange(min=0.1), default=None, help="seconds")
@click.option(
    "--metrics",
    "metrics_kind",
    type=click.Choice(["auto", "prometheus", "process", "bullmq"]),
    default="auto",
    help="auto: prometheus for k8s; bullmq for queue-backlog; else psutil of the workers",
)
@click.option("--prometheus", "prometheus_url", default=None, help="default scaling.prometheus_url")
@redis_option("queues", "queues.redis_url; read by --metrics bullmq")
@click.option("--worker-command", default=None, help="processes: default scaling.worker_command")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="stop after N steps")
@click.option("--alert-webhook", default=None, help="POST alerts as JSON here")
@config_option
@set_option
@json_option
@out_option
def run(
    policy: str | None,
    actuator: Literal["k8s", "processes"],
    namespace: str | None,
    deployment: str | None,
    kubeconfig: str | None,
    dry_run: bool,
    interval: float | None,
    metrics_kind: str,
    prometheus_url: str | None,
    redis_url: str | None,
    worker_command: str | None,
    max_steps: int | None,
    alert_webhook: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """Run the loop: every interval read metrics, decide, act; one JSON line per step on stderr."""
    from perfcore.scaling.assembly import LoopOptions, build_autoscaler

    extra = [f"scaling.{k}={v}" for k, v in (("namespace", namespace), ("deployment", deployment))]
    sets = [*overrides, *(item for item in extra if not item.endswith("=None"))]
    if interval is not None:
        sets.append(f"scaling.interval_s={interval}")
    full = load_config(config_path, [*sets, *([f"scaling.policy={policy}"] if policy else [])])
    options = LoopOptions(
        actuator=actuator,
        dry_run=dry_run,
        metrics=metrics_kind,
        prometheus_url=prometheus_url,
        redis_url=redis_url,
        worker_command=shlex.split(worker_command) if worker_command else None,
        kubeconfig=kubeconfig,
        alert_webhook=alert_webhook,
        decisions_file=(out / "decisions.jsonl") if out is not None else None,
    )
    autoscaler, cleanup = build_autoscaler(full, options)

    def stop(signum: int, frame: object) -> None:
        autoscaler.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stats = autoscaler.run(max_steps=max_steps)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        cleanup()
    payload = {"policy": autoscaler.policy.name, "dry_run": dry_run, **stats.to_dict()}
    text = (
        f"{stats.steps} steps, {stats.actions} scaling actions, "
        f"{stats.failures} failures, last {stats.last_replicas} replicas"
    )
    emit(payload, as_json=as_json, out=out, stem="summary", text=text)
    if stats.steps and stats.failures + stats.blind >= stats.steps:
        # Nothing was read or acted on: a run that only failed must not look like success.
        raise ServiceUnavailable(
            f"no step of {stats.steps} read a metric or acted; last: {stats.last_error}"
        )
