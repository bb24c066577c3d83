"""Files of a tuning run: ``recommended.yaml``, ``trials.csv`` and ``tuning.png``.

``recommended.yaml`` is the full perfcore configuration written by
:func:`perfcore.config.dump_yaml` (a comment header says where it came from),
so ``perfcore config check`` and every real component read it unchanged.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from perfcore.config import dump_yaml
from simulation.tune import TuneResult


def trial_table(result: TuneResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the trial table (start first), as text."""
    paths = [p.path for p in result.params]
    header = ["trial", *paths, "pod_hours", "violation_min", "p95_ms", "objective", "state"]
    rows = []
    for t in [result.start, *result.trials]:
        values = [_fmt(t.values.get(path)) for path in paths]
        objective = "" if math.isinf(t.objective) else f"{t.objective:.3f}"
        rows.append(
            [
                "start" if t.number < 0 else str(t.number),
                *values,
                f"{t.pod_hours:.3f}",
                f"{t.violation_minutes:g}",
                f"{t.p95_ms:.1f}",
                objective,
                t.state,
            ]
        )
    return header, rows


def _fmt(value: float | None) -> str:
    if value is None:
        return "none"
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def format_table(result: TuneResult) -> str:
    header, rows = trial_table(result)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)), *lines])


def write_outputs(result: TuneResult, out: Path, source: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    recommended = out / "recommended.yaml"
    best = result.best
    origin = "the starting configuration" if best.number < 0 else f"trial {best.number}"
    recommended.write_text(
        f"# perfcore tune on {source}: {origin}, objective {best.objective:.3f}"
        f" (pod-hours + {result.violation_weight:g} x SLO-violation minutes)\n"
        + dump_yaml(result.recommended),
        encoding="utf-8",
    )
    table = out / "trials.csv"
    header, rows = trial_table(result)
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return [recommended, table, _plot(result, out / "tuning.png")]


def _plot(result: TuneResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    done = [t for t in result.trials if t.state == "ok"]
    xs = [t.number for t in done]
    ys = [t.objective for t in done]
    best_so_far = [min(ys[: i + 1]) for i in range(len(ys))]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.scatter(xs, ys, s=18, label="trial objective")
    ax.step(xs, best_so_far, where="post", color="C1", label="best so far")
    ax.axhline(result.start.objective, color="grey", linestyle="--", label="starting config")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"pod-hours + {result.violation_weight:g} x violation min")
    ax.set_yscale("symlog")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
