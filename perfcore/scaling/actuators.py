"""Actuators: the one thing that changes how many replicas run.

An actuator reports the replica count it manages (desired and ready) and sets a
new one. :class:`DryRunActuator` wraps any actuator to read its status but
never act, so ``perfcore scale run --dry-run`` shows what would happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ReplicaStatus:
    """Replicas asked for, and how many of them are ready to serve."""

    current: int
    ready: int


class Actuator(Protocol):
    def status(self) -> ReplicaStatus:
        """Replicas currently requested and ready."""
        ...

    def scale(self, replicas: int) -> None:
        """Ask for ``replicas``; raises on failure (the loop alerts and carries on)."""
        ...

    def close(self) -> None:
        """Release clients or processes the actuator owns."""
        ...


class DryRunActuator:
    """Reads through to ``inner`` (when given) but only records what it would scale to."""

    def __init__(self, inner: Actuator | None = None, *, replicas: int = 1) -> None:
        self.inner = inner
        self.requested: list[int] = []
        self._replicas = replicas

    def status(self) -> ReplicaStatus:
        if self.inner is not None:
            return self.inner.status()
        return ReplicaStatus(self._replicas, self._replicas)

    def scale(self, replicas: int) -> None:
        self.requested.append(replicas)
        if self.inner is None:
            # Without a real target, pretend the change happened so the
            # decisions that follow are the ones the live loop would make.
            self._replicas = replicas

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
