"""The search space: config fields by dotted path, with bounds, applied as ``--set`` overrides.

A :class:`Param` names a field of the perfcore configuration
(``scaling.target_cpu``, ``queues.queues.normal.concurrency``,
``cache.namespaces.event_detail.ttl_s``) and its bounds. Every field
``--set`` reaches is searchable, including a namespace the scenario does not
list yet: its starting value is the one the cache would use
(:meth:`perfcore.config.CacheConfig.namespace`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfcore.config import ConfigError, apply_overrides, validate_model, value_at
from perfcore.errors import BadInput
from perfcore.platform import PLATFORM
from simulation.scenario import PLATFORM_SECTIONS, Scenario


@dataclass(frozen=True)
class Param:
    """One dimension of the search space: a config field and its bounds."""

    path: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    @classmethod
    def parse(cls, spec: str) -> Param:
        """Parse ``path=low:high[:log][:int]``, e.g. ``cache.default_ttl_s=30:1800:log``."""
        path, sep, rest = spec.partition("=")
        path = path.strip()
        if not sep or not path:
            raise BadInput(f"--param {spec}: expected path=low:high[:log|:int]")
        parts = rest.split(":")
        flags = {p.strip() for p in parts[2:]}
        if len(parts) < 2 or not flags <= {"log", "int"}:
            raise BadInput(f"{path}: expected low:high[:log|:int], got {rest!r}")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise BadInput(f"{path}: bounds must be numbers, got {rest!r}") from None
        return cls(path, low, high, log="log" in flags, integer="int" in flags)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise BadInput(f"{self.path}: bounds must be finite")
        if self.low >= self.high:
            raise BadInput(
                f"{self.path}: low must be below high (got {self.low:g} >= {self.high:g})"
            )
        if self.log and self.low <= 0:
            raise BadInput(f"{self.path}: a log scale needs low > 0 (got {self.low:g})")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise BadInput(f"{self.path}: integer bounds must be whole numbers")

    def spec(self) -> str:
        flags = (":log" if self.log else "") + (":int" if self.integer else "")
        return f"{self.path}={self.low:g}:{self.high:g}{flags}"

    def cast(self, value: float) -> float:
        return round(value) if self.integer else value


DEFAULT_PARAMS: tuple[Param, ...] = (
    Param("scaling.target_cpu", 0.3, 0.85),
    Param("scaling.min_replicas", 1, 8, integer=True),
    Param("scaling.scale_up_pods", 1, 16, integer=True),
    Param("cache.default_ttl_s", 30.0, 1800.0, log=True),
    Param("cache.namespaces.active_events.ttl_s", 5.0, 300.0, log=True),
    Param("queues.queues.normal.concurrency", 4, 64, integer=True),
)

# The seed design's own settings (seed/SEED.md): its CPU/memory doubling rule,
# its queue concurrency 20/15/10/5, the listing cached for 300 s and L1 copies
# kept for 60 s. The tuner's table compares every recommendation with these.
SEED_SETTINGS: tuple[str, ...] = (
    "scaling.policy=seed",
    "queues.queues.critical.concurrency=20",
    "queues.queues.high.concurrency=15",
    "queues.queues.normal.concurrency=10",
    "queues.queues.low.concurrency=5",
    "cache.namespaces.active_events.ttl_s=300",
    "cache.l1.max_ttl_s=60",
)


def reachable(base: Scenario) -> dict[str, Any]:
    """The scenario as data, with every platform namespace spelled out (as the cache sees it).

    ``--set`` creates a namespace entry on demand; listing each one here lets a
    search space name ``cache.namespaces.<ns>.ttl_s`` and read its start value.
    """
    data: dict[str, Any] = base.model_dump(mode="json")
    spaces = data["cache"]["namespaces"]
    for ns in PLATFORM.namespaces:
        spaces.setdefault(ns, base.cache.namespace(ns).model_dump(mode="json"))
    return data


def with_values(base: Scenario, values: dict[str, float | None]) -> Scenario:
    """The scenario with ``path=value`` overrides applied (one-line ConfigError if invalid)."""
    return with_sets(base, [f"{path}={value!r}" for path, value in values.items()])


def with_sets(base: Scenario, sets: Sequence[str]) -> Scenario:
    """The scenario with ``--set``-style overrides (e.g. :data:`SEED_SETTINGS`).

    A namespace the overrides name starts from the settings the cache gave it
    (the others stay unlisted, so they keep following ``default_ttl_s``).
    """
    data = apply_overrides(base.model_dump(mode="json"), list(sets), reachable(base))
    return validate_model(Scenario, data)


def start_values(base: Scenario, params: Sequence[Param]) -> dict[str, float | None]:
    data = reachable(base)
    return {p.path: value_at(data, p.path) for p in params}


def check_params(base: Scenario, params: Sequence[Param]) -> None:
    """Reject a search space that cannot be applied: raise :class:`BadInput` naming the field."""
    data = reachable(base)
    seen: set[str] = set()
    for p in params:
        if p.path in seen:
            raise BadInput(f"{p.path}: given twice")
        seen.add(p.path)
        if p.path.split(".")[0] not in PLATFORM_SECTIONS:
            raise BadInput(
                f"{p.path}: not a perfcore config field ({', '.join(PLATFORM_SECTIONS)})"
            )
        try:
            node = value_at(data, p.path)
        except ConfigError as exc:
            raise BadInput(str(exc)) from None
        # None is an optional number (e.g. target_requests_per_replica); the bounds check decides.
        if isinstance(node, bool) or not isinstance(node, int | float | None):
            raise BadInput(f"{p.path}: not a number (is {type(node).__name__})")
        for bound in (p.low, p.high):
            try:
                with_values(base, {p.path: p.cast(bound)})
            except ConfigError as exc:
                # A bound the field itself rejects is bad input. A cross-field rule
                # (min_replicas <= max_replicas) may hold once another param moves:
                # such combinations are left to the trials, which record them invalid.
                if str(exc).startswith(f"{p.path}:"):
                    raise BadInput(str(exc)) from None
