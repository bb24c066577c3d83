"""Sweeps: every combination of some configuration values, each simulated on the same seeds.

Where :func:`simulation.tune.tune` searches, a sweep measures a grid: each
``--grid path=v1,v2,...`` names a field ``--set`` reaches and its values
(YAML, so ``seed``, ``20`` and ``null`` are a string, an int and None), the
grid is their product, and every point runs the full horizon on the same
``seeds`` (common random numbers: points differ only by their values).

The points are the trials of an Optuna study, numbered by its storage as the
tuner's are: point *n* is trial *n*, so ``--jobs N`` local processes or any
number of ``perfcore sweep --storage URL --study NAME`` processes on several
machines share the grid without running a point twice, and an interrupted
sweep resumes. Every process then reads the same finished study.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from perfcore.config import ConfigError
from perfcore.errors import BadInput
from simulation.scenario import Scenario
from simulation.tune import evaluate
from simulation.tune_objectives import Evaluation
from simulation.tune_space import with_sets
from simulation.tune_study import INVALID, Spread, load_study, measures_of, open_storage, run_spread

if TYPE_CHECKING:
    import optuna

MAX_POINTS = 10_000
POINT = "point"  # user attribute: the grid point's values (JSON), as set on the scenario


@dataclass(frozen=True)
class Axis:
    """One dimension of the grid: a config field and the values it takes."""

    path: str
    values: tuple[Any, ...]

    @classmethod
    def parse(cls, spec: str) -> Axis:
        """Parse ``path=v1,v2,...`` (each value YAML), e.g. ``scaling.policy=seed,target-tracking``."""
        path, sep, rest = spec.partition("=")
        path = path.strip()
        if not sep or not path or not rest.strip():
            raise BadInput(f"--grid {spec}: expected path=value,value,...")
        try:
            values = tuple(yaml.safe_load(v.strip()) for v in rest.split(","))
        except yaml.YAMLError:
            raise BadInput(f"--grid {path}: values must be YAML scalars, got {rest!r}") from None
        if any(isinstance(v, dict | list) for v in values):
            raise BadInput(f"--grid {path}: values must be scalars, got {rest!r}")
        if len(set(map(repr, values))) != len(values):
            raise BadInput(f"--grid {path}: a value is listed twice in {rest!r}")
        return cls(path, values)


def points(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """The grid in a fixed order (the last axis varies fastest)."""
    if len({a.path for a in axes}) != len(axes):
        raise BadInput("--grid: a path is given twice")
    size = 1
    for a in axes:
        size *= len(a.values)
    if not axes or size > MAX_POINTS:
        raise BadInput(f"--grid: between 1 and {MAX_POINTS} points, got {size if axes else 0}")
    return [dict(zip((a.path for a in axes), combo, strict=True))
            for combo in itertools.product(*(a.values for a in axes))]  # fmt: skip


def _sets(values: dict[str, Any]) -> list[str]:
    return [f"{path}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
            for path, v in values.items()]  # fmt: skip


@dataclass(frozen=True)
class Point:
    number: int
    values: dict[str, Any]
    evaluation: Evaluation | None  # None: the values make no valid configuration
    state: str = "ok"


@dataclass(frozen=True)
class SweepResult:
    axes: list[Axis]
    seeds: list[int]
    points: list[Point]
    wall_seconds: float

    def rows(self) -> list[dict[str, Any]]:
        """One row per point and seed: the values, then that seed's measures."""
        out = []
        for p in self.points:
            for m in p.evaluation.measures if p.evaluation else []:
                row: dict[str, Any] = {"point": p.number, **p.values, "seed": m.seed}
                row.update(cost_usd=m.cost_usd, pod_hours=m.pod_hours,
                           violation_min=m.violation_min, p95_ms=m.p95_ms, stale_s=m.stale_s,
                           max_replicas=m.max_replicas)  # fmt: skip
                row.update({f"queue_{q}_wait_p95_s": w for q, w in m.queue_wait_p95_s.items()})
                out.append(row)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "axes": {a.path: list(a.values) for a in self.axes},
            "seeds": self.seeds,
            "points": [
                {
                    "point": p.number,
                    "values": p.values,
                    "state": p.state,
                    "summary": p.evaluation.to_json() if p.evaluation else None,
                }
                for p in self.points
            ],
            "wall_seconds": round(self.wall_seconds, 3),
        }


def sweep(
    base: Scenario,
    axes: Sequence[Axis],
    *,
    seeds: int | Sequence[int] = 3,
    jobs: int = 1,
    storage: str | None = None,
    study_name: str = "perfcore-sweep",
    on_point: Callable[[int], None] | None = None,
) -> SweepResult:
    """Simulate every point of the grid of ``axes`` on ``seeds`` (a count from the scenario's
    seed, or the seeds themselves); see the module docstring."""
    if isinstance(seeds, int):
        seeds = [base.seed + i for i in range(seeds)]
    if not seeds or jobs < 1:
        raise BadInput(f"--seeds and --jobs: must be at least 1 (got {len(seeds)}, {jobs})")
    grid = points(axes)
    for axis in axes:  # a path that is no field, or a value its schema rejects: exit 2 now
        for value in axis.values:
            try:
                with_sets(base, _sets({axis.path: value}))
            except ConfigError as exc:
                raise BadInput(f"--grid {exc}") from None
    seed_list = list(seeds)
    started = time.perf_counter()

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        values = grid[trial.number] if trial.number < len(grid) else {}
        trial.set_user_attr(POINT, values)
        return values

    def run(values: dict[str, Any]) -> Evaluation | str:
        try:
            sc = with_sets(base, _sets(values))
        except ConfigError as exc:
            return str(exc)  # e.g. min_replicas above max_replicas at this point only
        return evaluate(sc, seed_list, "full")

    with tempfile.TemporaryDirectory(prefix="perfcore-sweep-") as tmp:
        url = storage
        if url is None and jobs > 1:
            url = f"journal:{Path(tmp) / 'study.log'}"
        study = load_study(open_storage(url), study_name, 0)
        spread = Spread(url, study_name, 0, jobs)
        run_spread(study, spread, suggest, run, len(grid), on_point)
        found = _points(study, grid, base)
    return SweepResult(list(axes), seed_list, found, time.perf_counter() - started)


def _points(study: optuna.Study, grid: list[dict[str, Any]], base: Scenario) -> list[Point]:
    import optuna

    out = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.number >= len(grid):
            continue
        if t.user_attrs.get(POINT, grid[t.number]) != grid[t.number]:
            raise BadInput(f"--study {study.study_name}: holds another grid; name a new study")
        measures = measures_of(t.user_attrs)
        if t.state == optuna.trial.TrialState.COMPLETE and measures is not None:
            out.append(Point(t.number, grid[t.number], Evaluation.of(base, measures, "full")))
        else:
            why = t.user_attrs.get(INVALID, t.state.name.lower())
            out.append(Point(t.number, grid[t.number], None, f"invalid: {why}"))
    return out
