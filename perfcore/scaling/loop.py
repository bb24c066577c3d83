"""The control loop: every interval read metrics, decide, act, and log why.

Each step writes one JSON line (time, replicas, metrics, decision, reason,
outcome). Failures -- an unreadable metric, an actuator error -- call the alert
hook and the loop carries on: an autoscaler that dies on the first API hiccup
leaves the service at whatever size it happened to be.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from perfcore.scaling.actuators import Actuator
from perfcore.scaling.metrics import MetricsSource
from perfcore.scaling.policies import Observation, ScalingPolicy

AlertHook = Callable[[str, dict[str, Any]], None]


class LineSink(Protocol):
    """Where decision lines go: a text file, stderr, or several of them."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def stderr_alert(message: str, record: dict[str, Any]) -> None:
    """The default alert: one JSON line on stderr (wire a pager with ``--alert-webhook``)."""
    print(json.dumps({"alert": message, "time": record.get("time")}), file=sys.stderr)


def webhook_alert(url: str, *, timeout_s: float = 5.0) -> AlertHook:
    """POST each alert as JSON to ``url``; a failing webhook is reported, not raised."""
    import httpx

    def send(message: str, record: dict[str, Any]) -> None:
        try:
            httpx.post(url, json={"alert": message, "record": record}, timeout=timeout_s)
        except httpx.HTTPError as exc:
            stderr_alert(f"{message} (webhook failed: {exc})", record)

    return send


@dataclass
class LoopStats:
    steps: int = 0
    actions: int = 0
    failures: int = 0
    blind: int = 0  # steps that read no metric at all, so decided nothing
    last_replicas: int | None = None
    replicas_seen: list[int] = field(default_factory=list)
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "scaling_actions": self.actions,
            "failures": self.failures,
            "blind_steps": self.blind,
            "last_replicas": self.last_replicas,
            "max_replicas": max(self.replicas_seen, default=None),
        }


class AutoScaler:
    """Ties a policy, a metrics source and an actuator together."""

    def __init__(
        self,
        policy: ScalingPolicy,
        source: MetricsSource,
        actuator: Actuator,
        *,
        interval_s: float = 15.0,
        dry_run: bool = False,
        log: LineSink | None = None,
        alert: AlertHook = stderr_alert,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.source = source
        self.actuator = actuator
        self.interval_s = interval_s
        self.dry_run = dry_run
        self.log: LineSink = log if log is not None else sys.stderr
        self.alert = alert
        self.clock = clock
        self.stats = LoopStats()
        self._stop = threading.Event()

    def step(self) -> dict[str, Any]:
        """One read-decide-act cycle; returns (and logs) its record."""
        now = self.clock()
        record: dict[str, Any] = {"time": now, "policy": self.policy.name, "dry_run": self.dry_run}
        try:
            status = self.actuator.status()
        except Exception as exc:
            return self._fail(record, f"cannot read replicas: {type(exc).__name__}: {exc}")
        record.update(current_replicas=status.current, ready_replicas=status.ready)
        try:
            sample = self.source.read()
        except Exception as exc:  # a source bug must not stop the loop either
            return self._fail(record, f"cannot read metrics: {type(exc).__name__}: {exc}")
        record["metrics"] = sample.as_dict()
        obs = Observation(
            now=now,
            current_replicas=status.current,
            ready_replicas=status.ready,
            cpu=sample.cpu,
            memory=sample.memory,
            request_rate=sample.request_rate,
            queue_backlog=sample.queue_backlog,
        )
        decision = self.policy.decide(obs)
        action = decision.action(status.current)
        record["decision"] = {
            "replicas": decision.replicas,
            "action": action,
            "recommended": decision.recommended,
        }
        record["reason"] = decision.reason
        if sample.errors:
            if all(value is None for value in sample.as_dict().values()):
                self.stats.blind += 1
                self.stats.last_error = "; ".join(sample.errors)
            record["metric_errors"] = list(sample.errors)
            self.alert("metrics missing: " + "; ".join(sample.errors), record)
        if action != "none":
            if self.dry_run:
                record["outcome"] = "dry-run: not applied"
            else:
                try:
                    self.actuator.scale(decision.replicas)
                except Exception as exc:
                    self.policy.discard_change(now)
                    return self._fail(record, f"scaling failed: {type(exc).__name__}: {exc}")
                record["outcome"] = "applied"
            self.stats.actions += 1
        else:
            record["outcome"] = "unchanged"
        self.stats.last_replicas = decision.replicas
        self.stats.replicas_seen.append(decision.replicas)
        return self._finish(record)

    def run(self, *, max_steps: int | None = None) -> LoopStats:
        """Step every ``interval_s`` until :meth:`stop` or ``max_steps``."""
        while not self._stop.is_set():
            started = time.monotonic()
            self.step()
            if max_steps is not None and self.stats.steps >= max_steps:
                break
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        return self.stats

    def stop(self) -> None:
        self._stop.set()

    def _fail(self, record: dict[str, Any], message: str) -> dict[str, Any]:
        self.stats.failures += 1
        self.stats.last_error = message
        record["outcome"] = "failed"
        record["error"] = message
        self.alert(message, record)
        return self._finish(record)

    def _finish(self, record: dict[str, Any]) -> dict[str, Any]:
        self.stats.steps += 1
        self.log.write(json.dumps(record, default=str) + "\n")
        self.log.flush()
        return record
