"""Tuning: search perfcore configuration values with the simulation as the judge.

A :class:`Param` names a field of the perfcore configuration by its dotted
path (``scaling.target_cpu``) with bounds. Each Optuna trial proposes values,
applies them to the scenario as ``--set``-style overrides
(:func:`perfcore.config.apply_overrides`), runs :func:`simulation.run.simulate`
and scores the run::

    objective = pod_hours + violation_weight * slo.violation_minutes

Cost is what the platform pays; an SLO-violation minute is priced as
``violation_weight`` pod-hours, so by default (10) no saving in pods buys a
minute of slow pages. A penalty keeps one number to minimise (no constraint
bookkeeping) and still ranks two violating configurations by how badly they
violate. Every trial runs with the scenario's own simulation seed (common
random numbers), so trials differ only by their configuration; the sampler
(``TPESampler(seed=...)``) makes the whole search reproducible.

The recommendation is the full :class:`perfcore.config.PerfcoreConfig` of the
scenario with the best values applied -- or the scenario's starting
configuration if no trial beat it -- so it loads unchanged into production.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfcore.config import (
    ConfigError,
    PerfcoreConfig,
    apply_overrides,
    validate_model,
    value_at,
)
from perfcore.errors import BadInput
from simulation.run import simulate
from simulation.scenario import PLATFORM_SECTIONS, Scenario

DEFAULT_VIOLATION_WEIGHT = 10.0


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


DEFAULT_PARAMS: tuple[Param, ...] = (
    Param("cache.default_ttl_s", 30.0, 1800.0, log=True),
    Param("scaling.target_cpu", 0.4, 0.85),
    Param("scaling.target_requests_per_replica", 10.0, 50.0),
    Param("scaling.min_replicas", 1, 6, integer=True),
)


def with_values(base: Scenario, values: dict[str, float | None]) -> Scenario:
    """The scenario with ``path=value`` overrides applied (one-line ConfigError if invalid)."""
    sets = [f"{path}={value!r}" for path, value in values.items()]
    return validate_model(Scenario, apply_overrides(base.model_dump(mode="json"), sets))


def check_params(base: Scenario, params: Sequence[Param]) -> None:
    """Reject a search space that cannot be applied: raise :class:`BadInput` naming the field."""
    data = base.model_dump(mode="json")
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
                with_values(base, {p.path: _cast(p, bound)})
            except ConfigError as exc:
                # A bound the field itself rejects is bad input. A cross-field rule
                # (min_replicas <= max_replicas) may hold once another param moves:
                # such combinations are left to the trials, which record them invalid.
                if str(exc).startswith(f"{p.path}:"):
                    raise BadInput(str(exc)) from None


def _cast(p: Param, value: float) -> float:
    return round(value) if p.integer else value


def score(summary: dict[str, Any], violation_weight: float) -> float:
    """The objective of one run: pod-hours plus the priced SLO-violation minutes."""
    pod_hours = float(summary["replicas"]["pod_hours"])
    return pod_hours + violation_weight * float(summary["slo"]["violation_minutes"])


@dataclass(frozen=True)
class Trial:
    """One row of the trial table (``state`` is ``ok`` or ``invalid: <reason>``)."""

    number: int
    values: dict[str, float | None]
    objective: float
    pod_hours: float
    violation_minutes: float
    p95_ms: float
    state: str = "ok"


@dataclass
class TuneResult:
    params: list[Param]
    violation_weight: float
    trials: list[Trial]
    start: Trial  # the scenario's own configuration, number -1
    best: Trial  # the trial (or the start) the recommendation comes from
    recommended: PerfcoreConfig
    insensitive: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "params": [p.spec() for p in self.params],
            "violation_weight": self.violation_weight,
            "start": _row(self.start),
            "best": _row(self.best),
            "recommended_from": "start" if self.best.number < 0 else "trial",
            "insensitive": self.insensitive,
            "trials": [_row(t) for t in self.trials],
            "wall_seconds": round(self.wall_seconds, 3),
        }


def _row(t: Trial) -> dict[str, Any]:
    return {
        "trial": t.number,
        "values": t.values,
        "objective": round(t.objective, 4),
        "pod_hours": t.pod_hours,
        "violation_minutes": t.violation_minutes,
        "p95_ms": t.p95_ms,
        "state": t.state,
    }


def _fingerprint(summary: dict[str, Any]) -> dict[str, Any]:
    # Everything a run measured, without the wall-clock figures that vary run to run.
    return {
        k: v for k, v in summary.items() if k not in ("wall_seconds", "requests_per_wall_second")
    }


def _measure(
    scenario: Scenario, number: int, values: dict[str, float | None], weight: float
) -> tuple[Trial, dict[str, Any]]:
    s = simulate(scenario).summary()
    trial = Trial(
        number=number,
        values=values,
        objective=score(s, weight),
        pod_hours=float(s["replicas"]["pod_hours"]),
        violation_minutes=float(s["slo"]["violation_minutes"]),
        p95_ms=float(s["latency_ms"]["p95"]),
    )
    return trial, _fingerprint(s)


def _start_values(base: Scenario, params: Sequence[Param]) -> dict[str, float | None]:
    data: Any = base.model_dump(mode="json")
    return {p.path: value_at(data, p.path) for p in params}


def tune(
    base: Scenario,
    params: Sequence[Param] = DEFAULT_PARAMS,
    *,
    trials: int = 30,
    violation_weight: float = DEFAULT_VIOLATION_WEIGHT,
    seed: int = 0,
    on_trial: Callable[[Trial], None] | None = None,
) -> TuneResult:
    """Search ``params`` over ``trials`` simulations of ``base``; see the module docstring."""
    import optuna

    if trials < 1:
        raise BadInput(f"trials: must be at least 1 (got {trials})")
    if not math.isfinite(violation_weight) or violation_weight < 0:
        raise BadInput(f"violation_weight: must be >= 0 (got {violation_weight:g})")
    check_params(base, params)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    rows: list[Trial] = []
    scenarios: dict[int, tuple[Scenario, dict[str, Any]]] = {}

    def objective(trial: optuna.Trial) -> float:
        values: dict[str, float | None] = {}
        for p in params:
            if p.integer:
                values[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log)
            else:
                values[p.path] = trial.suggest_float(p.path, p.low, p.high, log=p.log)
        try:
            scenario = with_values(base, values)
        except ConfigError as exc:
            # A combination can be invalid (min_replicas above max_replicas): skip, record why.
            rows.append(Trial(trial.number, values, math.inf, 0.0, 0.0, 0.0, f"invalid: {exc}"))
            raise optuna.TrialPruned(str(exc)) from None
        row, fingerprint = _measure(scenario, trial.number, values, violation_weight)
        rows.append(row)
        scenarios[trial.number] = (scenario, fingerprint)
        if on_trial is not None:
            on_trial(row)
        return row.objective

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)

    start, start_fingerprint = _measure(base, -1, _start_values(base, params), violation_weight)
    ok = [r for r in rows if r.state == "ok"]
    if not ok:
        reason = rows[0].state.removeprefix("invalid: ")
        raise BadInput(f"params: every trial's configuration was invalid, e.g. {reason}")
    best = min(ok, key=lambda r: (r.objective, r.number))
    if start.objective < best.objective:
        best, (best_scenario, reference) = start, (base, start_fingerprint)
    else:
        best_scenario, reference = scenarios[best.number]
    return TuneResult(
        params=list(params),
        violation_weight=violation_weight,
        trials=rows,
        start=start,
        best=best,
        recommended=best_scenario.config,
        insensitive=_insensitive(best_scenario, reference, params),
        wall_seconds=time.perf_counter() - started,
    )


def _insensitive(best: Scenario, reference: dict[str, Any], params: Sequence[Param]) -> list[str]:
    """Params that change nothing: moving one to its farther bound leaves the run identical.

    One extra simulation per param, from the recommended configuration: a
    field the scenario never exercises (a target of another scaling policy, a
    TTL no namespace uses) shows up here instead of looking "tuned".
    """
    found: list[str] = []
    current = _start_values(best, params)
    for p in params:
        now = current[p.path]
        far = p.low if now is None or abs(now - p.high) < abs(now - p.low) else p.high
        try:
            moved = with_values(best, {p.path: _cast(p, far)})
        except ConfigError:
            continue
        if _fingerprint(simulate(moved).summary()) == reference:
            found.append(p.path)
    return found
