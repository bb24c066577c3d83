"""A sweep's outputs: the printed table, ``sweep.csv`` (one row per point and seed), ``sweep.png``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from simulation.sweep import SweepResult
from simulation.tune_report import format_rows

# (column, how to read it from an evaluation, plotted)
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cost USD", "cost_usd"),
    ("pod-hours", "pod_hours"),
    ("SLO-viol. min", "violation_min"),
    ("p95 ms", "p95_ms"),
    ("stale s/read", "stale_s"),
)


def _value(v: Any) -> str:
    return "null" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def format_table(result: SweepResult) -> str:
    """Per point: its values, and each figure's mean +- sd over the seeds."""
    paths = [a.path for a in result.axes]
    header = ["point", *paths, *(c for c, _ in _COLUMNS), "worst queue / target"]
    rows = []
    for p in result.points:
        cells = [str(p.number), *(_value(p.values[k]) for k in paths)]
        ev = p.evaluation
        if ev is None:
            rows.append(cells + [p.state] + [""] * len(_COLUMNS))
            continue
        cells += [f"{ev.mean(a):.2f} +- {ev.spread(a):.2f}" for _, a in _COLUMNS]
        rows.append([*cells, f"{ev.queue_excess:.2f}" if ev.targets else "-"])
    return format_rows(header, rows)


def write_csv(result: SweepResult, path: Path) -> Path:
    rows = result.rows()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot(result: SweepResult, path: Path) -> Path:
    """Figures against the first axis, one line per combination of the others (mean, min-max)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first, rest = result.axes[0], result.axes[1:]
    shown = [("SLO-violation minutes", "violation_min"), ("pod-hours", "pod_hours"),
             ("p95 (ms)", "p95_ms")]  # fmt: skip
    fig, axs = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.6), squeeze=False)
    xs = list(range(len(first.values)))
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for p in result.points:
        groups.setdefault(tuple(p.values[a.path] for a in rest), []).append(p)
    for ax, (label, attr) in zip(axs[0], shown, strict=True):
        for key, members in groups.items():
            at = {first.values.index(p.values[first.path]): p.evaluation for p in members}
            pts = [(x, ev) for x, ev in sorted(at.items()) if ev is not None]
            means = [ev.mean(attr) for _, ev in pts]
            seen = [[getattr(m, attr) for m in ev.measures] for _, ev in pts]
            lo = [mean - min(v) for mean, v in zip(means, seen, strict=True)]
            hi = [max(v) - mean for mean, v in zip(means, seen, strict=True)]
            name = ", ".join(
                f"{a.path.rsplit('.', 1)[-1]}={_value(v)}" for a, v in zip(rest, key, strict=True)
            )
            ax.errorbar([x for x, _ in pts], means, yerr=[lo, hi], marker="o", capsize=3,
                        label=name or None)  # fmt: skip
        ax.set_xticks(xs, [_value(v) for v in first.values], rotation=20)
        ax.set_xlabel(first.path)
        ax.set_title(label, fontsize=10)
    if rest:
        fig.legend(*axs[0][0].get_legend_handles_labels(), loc="lower center",
                   ncol=min(len(groups), 4), frameon=False, fontsize=8)  # fmt: skip
        fig.tight_layout(rect=(0, 0.12, 1, 1))
    else:
        fig.tight_layout()
    fig.suptitle(f"mean and range over seeds {result.seeds}", fontsize=9, y=1.0)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def write_outputs(result: SweepResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [write_csv(result, out / "sweep.csv"), plot(result, out / "sweep.png")]
