"""Tuning: search perfcore configuration values with the simulation as the judge.

The steps of :func:`tune`, each reproducible from the scenario's seed:

1. **Screen** ``trials`` configurations (multi-objective TPE, the scenario's
   constraints; :mod:`simulation.tune_study`) on the busiest hour of the day
   (:mod:`simulation.tune_fidelity`), each on the same ``seeds`` (common random
   numbers: every trial sees the same draws of the day).
2. **Promote** the ``leaders`` best screened configurations (meeting the
   constraints first, then cheapest) and the starting configuration to the
   full day, on the same seeds.
3. **Pick** by the rule of :func:`simulation.tune_objectives.pick`: the
   cheapest full-day configuration meeting every constraint on every seed.
4. **Confirm** the pick on fresh seeds no trial saw, next to the starting
   configuration and the seed design's settings
   (:data:`simulation.tune_space.SEED_SETTINGS`), with the spread over seeds.

Trials run in ``jobs`` local processes, or in any number of ``perfcore tune``
processes sharing ``storage``.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfcore.config import ConfigError, PerfcoreConfig
from perfcore.errors import BadInput
from simulation.run import simulate
from simulation.scenario import Scenario
from simulation.tune_fidelity import Window, busiest_window, screening
from simulation.tune_objectives import Evaluation, Measure, pick
from simulation.tune_space import (
    DEFAULT_PARAMS,
    SEED_SETTINGS,
    Param,
    check_params,
    start_values,
    with_sets,
    with_values,
)
from simulation.tune_study import (
    INVALID,
    Spread,
    create_or_load,
    measures_of,
    open_storage,
    run_spread,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_PARAMS", "Param", "Row", "TuneResult", "tune"]

FRESH_SEED_OFFSET = 10_000  # confirmation seeds: far from any trial's seeds


@dataclass(frozen=True)
class Row:
    """One screened trial (``state``: ``ok`` or why it did not run)."""

    number: int
    values: dict[str, float | None]
    screen: Evaluation | None
    full: Evaluation | None = None
    state: str = "ok"


@dataclass
class TuneResult:
    params: list[Param]
    seeds: list[int]
    confirm_seeds: list[int]
    window: Window | None
    rows: list[Row]
    start: Row  # the scenario's own configuration, number -1, evaluated on the full day
    chosen: int  # the trial number the recommendation comes from (-1: the start)
    meets_constraints: bool
    recommended: PerfcoreConfig
    confirmation: dict[str, Evaluation]  # "recommended", "start", "seed settings"
    slo_p95_ms: float = 250.0
    study_name: str = "perfcore-tune"
    wall_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def chosen_row(self) -> Row:
        return (
            self.start if self.chosen < 0 else next(r for r in self.rows if r.number == self.chosen)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "params": [p.spec() for p in self.params],
            "seeds": self.seeds,
            "confirm_seeds": self.confirm_seeds,
            "screening_windows_s": (
                [list(span) for span in self.window.spans] if self.window else None
            ),
            "recommended_from": "start" if self.chosen < 0 else f"trial {self.chosen}",
            "recommended_values": self.chosen_row.values,
            "meets_constraints": self.meets_constraints,
            "confirmation": {k: v.to_json() for k, v in self.confirmation.items()},
            "gain_held": gain_held(self),
            "trials": [_row_json(r) for r in self.rows],
            "start": _row_json(self.start),
            "study": self.study_name,
            "wall_seconds": round(self.wall_seconds, 3),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _row_json(r: Row) -> dict[str, Any]:
    return {
        "trial": r.number,
        "values": r.values,
        "state": r.state,
        "screen": r.screen.to_json() if r.screen else None,
        "full": r.full.to_json() if r.full else None,
    }


def gain_held(result: TuneResult) -> bool:
    """On the fresh seeds: the pick meets the constraints, or misses them less than the start."""
    rec, start = result.confirmation["recommended"], result.confirmation["start"]
    if rec.feasible:
        return not start.feasible or rec.mean("cost_usd") <= start.mean("cost_usd") * 1.0001
    return rec.excess < start.excess


# ------------------------------------------------------------- evaluation


def evaluate(
    scenario: Scenario, seeds: Sequence[int], fidelity: str, *, keep_day: bool = False
) -> Evaluation:
    """``scenario`` simulated once per seed (``keep_day``: the first seed's per-minute series)."""
    return evaluate_all([(scenario, seeds, fidelity, keep_day)], jobs=1)[0]


# One evaluation asked of evaluate_all: (scenario, seeds, fidelity, keep_day).
Task = tuple[Scenario, Sequence[int], str, bool]


def evaluate_all(tasks: Sequence[Task], jobs: int) -> list[Evaluation]:
    """Every task's evaluation; its (scenario, seed) runs spread over ``jobs`` local processes."""
    runs = [
        (sc, seed, keep and i == 0) for sc, seeds, _, keep in tasks for i, seed in enumerate(seeds)
    ]
    if jobs > 1 and len(runs) > 1:
        ctx = multiprocessing.get_context("fork")  # the children inherit the loaded modules
        with ctx.Pool(min(jobs, len(runs))) as pool:
            results = pool.map(_simulate_one, runs, chunksize=1)
    else:
        results = [_simulate_one(r) for r in runs]
    out, at = [], 0
    for scenario, seeds, fidelity, _ in tasks:
        done, at = results[at : at + len(seeds)], at + len(seeds)
        ev = Evaluation.of(scenario, [m for m, _ in done], fidelity)
        if done and done[0][1]:
            ev.extra["day"] = done[0][1]
        out.append(ev)
    return out


def _simulate_one(run: tuple[Scenario, int, bool]) -> tuple[Measure, dict[str, list[float]]]:
    scenario, seed, keep_day = run
    sc = scenario.model_copy(update={"seed": seed})
    result = simulate(sc)
    day: dict[str, list[float]] = {}
    if keep_day:
        m = result.metrics
        day = {
            "p95_ms": [float(x) for x in m.p95_per_minute()],
            "replicas": [float(x) for x in m.replicas],
            "requests_per_s": [float(x) / 60.0 for x in m.arrivals.sum(axis=1)],
        }
    return Measure.of(sc, result.summary()), day


def _suggest(params: Sequence[Param]) -> Callable[[optuna.Trial], dict[str, float | None]]:
    def suggest(trial: optuna.Trial) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        for p in params:
            if p.integer:
                values[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log)
            else:
                values[p.path] = trial.suggest_float(p.path, p.low, p.high, log=p.log)
        return values

    return suggest


def _screen_evaluator(
    base: Scenario, seeds: Sequence[int], window: Window | None
) -> Callable[[dict[str, float | None]], Evaluation | str]:
    def run(values: dict[str, float | None]) -> Evaluation | str:
        try:
            sc = with_values(base, values)
        except ConfigError as exc:
            return str(exc)  # a combination can be invalid (min_replicas above max_replicas)
        if window is None:
            return evaluate(sc, seeds, "full")
        return evaluate(screening(sc, window), seeds, "screen")

    return run


# ------------------------------------------------------------------- tune


def tune(
    base: Scenario,
    params: Sequence[Param] = DEFAULT_PARAMS,
    *,
    trials: int = 30,
    seeds: int = 3,
    confirm_seeds: int = 3,
    leaders: int = 3,
    screen: bool = True,
    jobs: int = 1,
    storage: str | None = None,
    study_name: str = "perfcore-tune",
    sampler_seed: int = 0,
    on_trial: Callable[[int], None] | None = None,
) -> TuneResult:
    """Search ``params`` on ``base``; see the module docstring for the steps."""
    for name, value, low in (
        ("trials", trials, 1),
        ("seeds", seeds, 1),
        ("jobs", jobs, 1),
        ("confirm_seeds", confirm_seeds, 1),
        ("leaders", leaders, 1),
    ):
        if value < low:
            raise BadInput(f"{name}: must be at least {low} (got {value})")
    check_params(base, params)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    seed_list = [base.seed + i for i in range(seeds)]
    fresh = [base.seed + FRESH_SEED_OFFSET + i for i in range(confirm_seeds)]
    window = busiest_window(base) if screen else None
    if window is not None and screening(base, window) is base:
        window = None  # the whole horizon is the busiest hour: nothing to cut
    start_vals = start_values(base, params)

    with tempfile.TemporaryDirectory(prefix="perfcore-tune-") as tmp:
        url = storage
        if url is None and jobs > 1:
            url = f"journal:{Path(tmp) / 'study.log'}"  # local processes share a journal file
        study, created = create_or_load(open_storage(url), study_name, sampler_seed)
        if created and _inside(params, start_vals):
            # The start is trial 0: the front always holds the configuration to beat.
            study.enqueue_trial(
                {k: v for k, v in start_vals.items() if v is not None}, skip_if_exists=True
            )
        t0 = time.perf_counter()
        run_spread(
            study,
            Spread(url, study_name, sampler_seed, jobs),
            _suggest(params),
            _screen_evaluator(base, seed_list, window),
            trials,
            on_trial,
        )
        timings["screening"] = time.perf_counter() - t0
        rows = _rows(study, params, trials, base, "full" if window is None else "screen")

    if not any(r.state == "ok" for r in rows):
        reason = next((r.state for r in rows), "no trials").removeprefix("invalid: ")
        raise BadInput(f"params: every trial's configuration was invalid, e.g. {reason}")

    # The start and the leaders on the full day, side by side in the trial processes.
    t0 = time.perf_counter()
    leading = _leaders(rows, leaders)
    fulls = evaluate_all(
        [(base, seed_list, "full", False)]
        + [(with_values(base, r.values), seed_list, "full", False) for r in leading if window],
        jobs,
    )
    start = Row(-1, start_vals, None, fulls[0])
    promoted = [
        Row(r.number, r.values, r.screen, fulls[1 + i] if window else r.screen)
        for i, r in enumerate(leading)
    ]
    timings["full_day_leaders"] = time.perf_counter() - t0
    candidates = [(start.number, start.full), *((r.number, r.full) for r in promoted)]
    chosen, _, meets = pick([(k, ev) for k, ev in candidates if ev is not None])
    rows = [next((p for p in promoted if p.number == r.number), r) for r in rows]
    chosen_values = (
        start.values if chosen < 0 else next(r for r in rows if r.number == chosen).values
    )
    recommended = base if chosen < 0 else with_values(base, chosen_values)

    t0 = time.perf_counter()
    names = ["recommended", "start", "seed settings"]
    configs = [recommended, base, with_sets(base, SEED_SETTINGS)]
    if chosen < 0:
        names, configs = [names[0], names[2]], [configs[0], configs[2]]
    evs = evaluate_all(
        [
            (sc, fresh, "confirm", name != "seed settings")
            for name, sc in zip(names, configs, strict=True)
        ],
        jobs,
    )
    confirmation = dict(zip(names, evs, strict=True))
    confirmation.setdefault("start", confirmation["recommended"])
    timings["confirmation"] = time.perf_counter() - t0
    return TuneResult(
        params=list(params),
        seeds=seed_list,
        confirm_seeds=fresh,
        window=window,
        rows=rows,
        start=start,
        chosen=chosen,
        meets_constraints=meets,
        recommended=recommended.config,
        confirmation=confirmation,
        slo_p95_ms=base.slo.p95_ms,
        study_name=study_name,
        wall_seconds=time.perf_counter() - started,
        timings=timings,
    )


def _inside(params: Sequence[Param], values: dict[str, float | None]) -> bool:
    return all((v := values[p.path]) is not None and p.low <= v <= p.high for p in params)


def _rows(
    study: optuna.Study, params: Sequence[Param], trials: int, base: Scenario, fidelity: str
) -> list[Row]:
    import optuna

    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.number >= trials:
            continue
        values: dict[str, float | None] = {p.path: t.params.get(p.path) for p in params}
        measures = measures_of(t.user_attrs)
        if t.state == optuna.trial.TrialState.COMPLETE and measures is not None:
            rows.append(Row(t.number, values, Evaluation.of(base, measures, fidelity)))
        else:
            why = t.user_attrs.get(INVALID, t.state.name.lower())
            rows.append(Row(t.number, values, None, state=f"invalid: {why}"))
    return rows


def _leaders(rows: list[Row], leaders: int) -> list[Row]:
    """The best screened rows: meeting the constraints first, then the cheapest."""
    ok = [r for r in rows if r.screen is not None]
    ranked = sorted(ok, key=lambda r: (r.screen.excess > 0, r.screen.mean("cost_usd"), r.number))  # type: ignore[union-attr]
    return ranked[:leaders]
