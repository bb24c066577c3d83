"""The Optuna study behind ``perfcore tune``: storage, sampler, and trials run by many processes.

Storage is Optuna's own: ``sqlite:///file.db`` or ``mysql+pymysql://...``
(RDB), or ``journal:PATH`` (a journal file, safe for processes on one host);
several ``perfcore tune --storage URL --study NAME`` processes, on any
machines that reach the storage, join one study and together complete the
requested number of trials: trial numbers come from the storage, and a
process that draws a number at or past the count stops instead of running it.
An interrupted study resumes where it stopped (finished trials are kept).

The sampler is Optuna's multi-objective TPE; the scenario's constraints are
set on each trial (``Trial.set_constraint``, <= 0 holds) and each trial's per-seed measures are stored as a user
attribute, so any process can rebuild every evaluation from the storage.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfcore.errors import BadInput, ServiceUnavailable
from simulation.tune_objectives import Evaluation, Measure

if TYPE_CHECKING:
    import optuna

MEASURES = "measures"  # user attribute: the per-seed measures of a trial


def open_storage(url: str | None) -> Any:
    """An Optuna storage for ``url`` (None: in memory); bad URLs are one-line BadInput."""
    import optuna

    if url is None:
        return optuna.storages.InMemoryStorage()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        path = url.removeprefix("journal:")
        if not path:
            raise BadInput("--storage: journal: needs a file path (journal:/path/study.log)")
        return optuna.storages.JournalStorage(JournalFileBackend(path))
    if "://" not in url:
        raise BadInput("--storage: expected sqlite:///FILE, mysql+pymysql://... or journal:FILE")
    _check_dialect(url)
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # the driver's error names the problem; the URL may hold a password
        raise ServiceUnavailable(
            f"--storage: cannot open the study storage ({type(exc).__name__})"
        ) from None


def _check_dialect(url: str) -> None:
    """Bad input (exit 2) when no installed SQLAlchemy dialect reads ``url``; only then connect."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(
            "--storage: not a database URL (sqlite:///FILE, mysql+pymysql://...)"
        ) from None
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise BadInput(f"--storage: unknown database {parsed.drivername!r}") from None
    except ImportError as exc:
        raise BadInput(
            f"--storage: the driver for {parsed.drivername!r} is not installed ({exc.name})"
        ) from None
    folder = Path(parsed.database or "").parent
    if parsed.get_backend_name() == "sqlite" and parsed.database and not folder.is_dir():
        raise BadInput(f"--storage: directory {folder} does not exist")


def load_study(storage: Any, name: str, sampler_seed: int) -> optuna.Study:
    return create_or_load(storage, name, sampler_seed)[0]


def create_or_load(storage: Any, name: str, sampler_seed: int) -> tuple[optuna.Study, bool]:
    """The study ``name`` in ``storage``, and whether this call created it.

    Creating is atomic in every storage (the name is unique), so of several
    processes starting together exactly one learns it created the study: only
    that one may add trials to it (two could otherwise both enqueue the start).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, n_startup_trials=8)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, directions=["minimize"] * 4, sampler=sampler
        )
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(storage=storage, study_name=name, sampler=sampler), False


def store(trial: optuna.Trial, evaluation: Evaluation) -> None:
    trial.set_user_attr(MEASURES, json.dumps([asdict(m) for m in evaluation.measures]))
    names = ["violation_min", *(f"queue {q}" for q in evaluation.targets)]
    for name, value in zip(names, evaluation.constraints(), strict=True):
        trial.set_constraint(name, value)


def measures_of(attrs: dict[str, Any], key: str = MEASURES) -> list[Measure] | None:
    raw = attrs.get(key)
    if raw is None:
        return None
    return [Measure(**m) for m in json.loads(raw)]


Evaluate = Callable[[dict[str, Any]], Evaluation | str]
Suggest = Callable[["optuna.Trial"], dict[str, Any]]
WORKER = "worker"  # user attribute: host:pid of the process that ran the trial
INVALID = "invalid"  # user attribute: why a trial's configuration could not be applied


def run_trials(
    study: optuna.Study,
    suggest: Suggest,
    evaluate: Evaluate,
    trials: int,
    on_trial: Callable[[int], None] | None = None,
) -> None:
    """Run trials of ``study`` until the study holds ``trials`` numbered trials.

    ``evaluate`` returns the reason for a configuration that cannot be applied
    (the trial is pruned, the reason kept as a user attribute). ``on_trial`` gets the number of trials
    finished in the whole study after each of this process's trials.
    """
    import optuna

    def objective(trial: optuna.Trial) -> list[float]:
        if trial.number >= trials:
            study.stop()
            raise optuna.TrialPruned("beyond the requested trial count")
        trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
        values = suggest(trial)
        evaluation = evaluate(values)
        if isinstance(evaluation, str):
            trial.set_user_attr(INVALID, evaluation)
            raise optuna.TrialPruned(evaluation)
        store(trial, evaluation)
        return evaluation.objectives()

    def progress(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(finished(study, trials))

    if finished(study, trials) < trials and len(study.trials) < trials:
        study.optimize(objective, callbacks=[progress], catch=())


@dataclass(frozen=True)
class Spread:
    """Where a study's trials run: ``jobs`` local processes sharing the storage at ``url``."""

    url: str | None
    study: str
    sampler_seed: int
    jobs: int = 1


WAIT_FOR_OTHERS_S = 3600.0


def run_spread(
    study: optuna.Study,
    spread: Spread,
    suggest: Suggest,
    evaluate: Evaluate,
    trials: int,
    on_trial: Callable[[int], None] | None = None,
) -> None:
    """:func:`run_trials` here and in ``jobs - 1`` forked processes; returns when all are done.

    The children are forked (they inherit ``suggest`` and ``evaluate``, and the
    loaded modules) and open their own connection to the storage; each samples
    with its own seed, and the storage numbers their trials apart.
    """
    others = []
    if spread.jobs > 1:
        if spread.url is None:
            raise ValueError("trials in several processes need a shared storage URL")
        ctx = multiprocessing.get_context("fork")
        for i in range(1, spread.jobs):
            seed = spread.sampler_seed + i
            proc = ctx.Process(
                target=_child, args=(spread.url, spread.study, seed, suggest, evaluate, trials)
            )
            proc.daemon = True
            proc.start()
            others.append(proc)
    try:
        run_trials(study, suggest, evaluate, trials, on_trial)
        wait_for_others(study, trials, WAIT_FOR_OTHERS_S)
    finally:
        for proc in others:
            proc.join(timeout=WAIT_FOR_OTHERS_S)


def _child(
    url: str,
    name: str,
    sampler_seed: int,
    suggest: Suggest,
    evaluate: Evaluate,
    trials: int,
) -> None:
    run_trials(load_study(open_storage(url), name, sampler_seed), suggest, evaluate, trials)


def finished(study: optuna.Study, trials: int) -> int:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return sum(1 for t in study.get_trials(deepcopy=False) if t.number < trials and t.state in done)


def wait_for_others(study: optuna.Study, trials: int, timeout_s: float) -> None:
    """Block until every trial numbered below ``trials`` has finished (other processes' too)."""
    import time

    deadline = time.monotonic() + timeout_s
    while finished(study, trials) < min(trials, len(study.trials)):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"--storage: trials of another process did not finish within {timeout_s:g} s"
            )
        time.sleep(0.5)
