"""Files and tables of a tuning run.

``recommended.yaml`` is the full perfcore configuration written by
:func:`perfcore.config.dump_yaml` (a comment header says where it came from),
so ``perfcore config check`` and every real component read it unchanged.
``trials.csv`` has one row per screened trial, ``pareto.csv`` the
non-dominated ones; the PNGs are in :mod:`simulation.tune_plots`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from perfcore.config import dump_yaml
from simulation.tune import Row, TuneResult
from simulation.tune_objectives import OBJECTIVES, Evaluation, pareto

# The comparison table's rows: (label, how to read it from an evaluation).
_LINES: tuple[tuple[str, str], ...] = (
    ("cost (USD, mean +- sd)", "cost_usd"),
    ("pod-hours", "pod_hours"),
    ("SLO-violation minutes", "violation_min"),
    ("latency p95 (ms)", "p95_ms"),
    ("stale seconds per cached read", "stale_s"),
)


def comparison(result: TuneResult) -> tuple[list[str], list[list[str]]]:
    """Recommendation vs start vs seed settings on the confirmation seeds, every objective."""
    names = ["recommended", "start", "seed settings"]
    evs = [result.confirmation[n] for n in names]
    header = [f"on fresh seeds {_seeds(result.confirm_seeds)}", *names]
    rows = []
    for label, attr in _LINES:
        rows.append([label, *(_mean_sd(ev, attr) for ev in evs)])
    for queue, target in evs[0].targets.items():
        rows.append(
            [f"queue {queue} wait p95 (s), target {target:g}"]
            + [f"{ev.queue_wait(queue):.2f}" for ev in evs]
        )
    rows.append(["meets every constraint", *("yes" if ev.feasible else "no" for ev in evs)])
    return header, rows


def _seeds(seeds: list[int]) -> str:
    return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _mean_sd(ev: Evaluation, attr: str) -> str:
    mean, sd = ev.mean(attr), ev.spread(attr)
    return f"{mean:.3f} +- {sd:.3f}" if len(ev.measures) > 1 else f"{mean:.3f}"


def format_rows(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        first = r[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))])

    return "\n".join([line(header), *(line(r) for r in rows)])


def format_table(result: TuneResult) -> str:
    return format_rows(*comparison(result))


def trial_table(result: TuneResult) -> tuple[list[str], list[list[str]]]:
    """One row per trial (start first): values, screening objectives, full-day objectives."""
    paths = [p.path for p in result.params]
    header = ["trial", *paths, *(f"screen_{o}" for o in OBJECTIVES), "screen_feasible"]
    header += [*(f"full_{o}" for o in OBJECTIVES), "full_feasible", "state"]
    rows = []
    for r in [result.start, *result.rows]:
        cells = ["start" if r.number < 0 else str(r.number)]
        cells += [_fmt(r.values.get(path)) for path in paths]
        for ev in (r.screen, r.full):
            if ev is None:
                cells += [""] * (len(OBJECTIVES) + 1)
            else:
                cells += [f"{v:.4g}" for v in ev.objectives()] + [str(ev.feasible).lower()]
        rows.append([*cells, r.state])
    return header, rows


def front(result: TuneResult) -> list[Row]:
    """Screened trials on the Pareto front of the four objectives."""
    ok = [r for r in result.rows if r.screen is not None]
    keys = set(pareto([(r.number, r.screen.objectives()) for r in ok if r.screen]))
    return [r for r in ok if r.number in keys]


def _fmt(value: float | None) -> str:
    if value is None:
        return "none"
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_outputs(result: TuneResult, out: Path, source: str) -> list[Path]:
    from simulation.tune_plots import plot_day, plot_importances, plot_pareto

    out.mkdir(parents=True, exist_ok=True)
    recommended = out / "recommended.yaml"
    origin = "the starting configuration" if result.chosen < 0 else f"trial {result.chosen}"
    rule = "meets every constraint" if result.meets_constraints else "misses a constraint least"
    cost = result.confirmation["recommended"].mean("cost_usd")
    recommended.write_text(
        f"# perfcore tune on {source}: {origin}, the cheapest configuration that {rule}"
        f" on seeds {result.seeds}; ${cost:.2f} on fresh seeds {result.confirm_seeds}\n"
        + dump_yaml(result.recommended),
        encoding="utf-8",
    )
    header, rows = trial_table(result)
    paths = [recommended, _write_csv(out / "trials.csv", header, rows)]
    on_front = {r.number for r in front(result)}
    paths.append(
        _write_csv(out / "pareto.csv", header, [row for row in rows if _number(row[0]) in on_front])
    )
    paths += [plot_pareto(result, out / "pareto.png"), plot_day(result, out / "day.png")]
    importances = plot_importances(result, out / "importances.png")
    if importances is not None:
        paths.append(importances)
    return paths


def _number(cell: str) -> float:
    return -1 if cell == "start" else math.floor(float(cell))
