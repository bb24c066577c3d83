"""PNG plots of a tuning run: the Pareto front, parameter importances, recommended vs start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulation.tune import TuneResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(result: TuneResult, path: Path) -> Path:
    """Cost against SLO-violation minutes of every screened trial; feasible ones filled."""
    from simulation.tune_report import front

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ok = [r for r in result.rows if r.screen is not None]
    on_front = {r.number for r in front(result)}
    for feasible, marker in ((True, "o"), (False, "x")):
        pts = [r for r in ok if r.screen is not None and r.screen.feasible is feasible]
        ax.scatter(
            [r.screen.mean("cost_usd") for r in pts if r.screen],
            [r.screen.mean("violation_min") for r in pts if r.screen],
            marker=marker,
            s=22,
            label="meets constraints" if feasible else "misses a constraint",
        )
    fr = sorted(
        (r for r in ok if r.number in on_front and r.screen),
        key=lambda r: r.screen.mean("cost_usd"),  # type: ignore[union-attr]
    )
    for r in fr:
        assert r.screen is not None
        ax.annotate(
            str(r.number),
            (r.screen.mean("cost_usd"), r.screen.mean("violation_min")),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    # The pick on the same (screening) axes as every trial; its full-day figures go in the label.
    chosen = result.chosen_row
    if chosen.screen is not None and chosen.full is not None:
        ax.scatter(
            [chosen.screen.mean("cost_usd")],
            [chosen.screen.mean("violation_min")],
            marker="*",
            s=160,
            color="C3",
            label=f"recommended (full day: ${chosen.full.mean('cost_usd'):.2f},"
            f" {chosen.full.mean('violation_min'):.1f} min)",
        )
    ax.set_xlabel("cost (USD, screening)")
    ax.set_ylabel("SLO-violation minutes")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def importances(result: TuneResult) -> dict[str, float]:
    """fANOVA-style importances of each param for the cost objective (Optuna's evaluator)."""
    import optuna

    dist: dict[str, Any] = {}
    for p in result.params:
        if p.integer:
            dist[p.path] = optuna.distributions.IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            dist[p.path] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
    study = optuna.create_study(direction="minimize")
    for r in result.rows:
        if r.screen is None or any(r.values.get(p.path) is None for p in result.params):
            continue
        study.add_trial(
            optuna.trial.create_trial(
                params={p.path: r.values[p.path] for p in result.params},
                distributions=dist,
                value=r.screen.mean("cost_usd") + 10 * r.screen.excess,
            )
        )
    if len(study.trials) < 4:
        return {}
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def plot_importances(result: TuneResult, path: Path) -> Path | None:
    found = importances(result)
    if not found:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(found)))
    names = list(found)[::-1]
    ax.barh(names, [found[n] for n in names])
    ax.set_xlabel("importance for cost + 10 x constraint excess (screening)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_day(result: TuneResult, path: Path) -> Path:
    """Per-minute p95 and replicas of the recommendation and the start, first fresh seed."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for name, colour in (("start", "C0"), ("recommended", "C3")):
        day = result.confirmation[name].extra.get("day")
        if not day:
            continue
        hours = [i / 60.0 for i in range(len(day["p95_ms"]))]
        top.plot(hours, day["p95_ms"], lw=0.8, color=colour, label=name)
        bottom.plot(hours, day["replicas"], lw=1.0, color=colour, label=name)
    top.axhline(result.slo_p95_ms, ls="--", color="grey", lw=0.8, label="SLO p95")
    top.set_yscale("log")
    top.set_ylabel("p95 per minute (ms)")
    bottom.set_ylabel("replicas")
    bottom.set_xlabel(f"simulated hour (seed {result.confirm_seeds[0]})")
    bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
