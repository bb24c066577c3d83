"""Files of a run: ``metrics.json``, ``timeseries.csv`` (one row per simulated minute) and PNG plots.

Plots use matplotlib's Agg backend (no display needed): load and replicas,
latency percentiles, cache hit ratios, queue waits -- all per simulated minute.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfcore.cli_options import json_text
from simulation.metrics import per_row_percentile
from simulation.run import RunResult
from simulation.scenario import REQUEST_CLASSES


def timeseries(result: RunResult) -> dict[str, NDArray[np.float64]]:
    """Per-minute columns (name -> array) of the run."""
    m, sc = result.metrics, result.scenario
    api = sc.infrastructure.api
    hist = m.hist.astype(np.int64)
    lv = m.levels.astype(np.float64)
    lookups = lv[:, 0] + lv[:, 1] + lv[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols: dict[str, NDArray[np.float64]] = {"minute": np.arange(m.minutes, dtype=np.float64)}
        for i, name in enumerate(REQUEST_CLASSES):
            cols[f"arrivals_{name}"] = m.arrivals[:, i].astype(np.float64)
        cols["arrivals_total"] = m.arrivals.sum(axis=1).astype(np.float64)
        cols["replicas"] = m.replicas
        cols["ready_replicas"] = m.ready
        cols["cpu_utilisation"] = m.cpu_s / (np.maximum(m.ready, 1) * api.cpus_per_replica * 60.0)
        cols["in_flight"] = m.in_flight
        for q in (0.50, 0.95, 0.99):
            cols[f"p{round(q * 100)}_ms"] = per_row_percentile(hist, q)
        cols["hit_ratio"] = np.where(lookups > 0, (lv[:, 0] + lv[:, 1]) / lookups, np.nan)
        cols["l1_hit_ratio"] = np.where(lookups > 0, lv[:, 0] / lookups, np.nan)
        l2_lookups = lv[:, 1] + lv[:, 2]
        cols["l2_hit_ratio"] = np.where(l2_lookups > 0, lv[:, 1] / l2_lookups, np.nan)
        cols["db_utilisation"] = m.db_busy_s / (sc.infrastructure.db.connections * 60.0)
        for j, queue in enumerate(m.queue_names):
            cols[f"queue_depth_{queue}"] = m.queue_depth[:, j]
        for queue, waits in queue_wait_p95_per_minute(result).items():
            cols[f"queue_wait_p95_s_{queue}"] = waits
    return cols


def queue_wait_p95_per_minute(result: RunResult) -> dict[str, NDArray[np.float64]]:
    """p95 queue wait of the attempts started in each minute, per queue (NaN: none)."""
    minutes = result.metrics.minutes
    out: dict[str, NDArray[np.float64]] = {}
    for q in result.platform.jobs.queues:
        series = np.full(minutes, np.nan)
        if len(q.wait_s):
            waits = np.frombuffer(q.wait_s, dtype=np.float64)
            minute = np.minimum(
                (np.frombuffer(q.started_at, dtype=np.float64) // 60).astype(np.int64), minutes - 1
            )
            order = np.argsort(minute, kind="stable")
            minute, waits = minute[order], waits[order]
            bounds = np.searchsorted(minute, np.arange(minutes + 1))
            for i in np.nonzero(np.diff(bounds))[0]:
                series[i] = np.percentile(waits[bounds[i] : bounds[i + 1]], 95)
        out[q.name] = series
    return out


def write_outputs(result: RunResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    """Write metrics.json, timeseries.csv and the plots into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "metrics.json", out / "timeseries.csv"]
    written[0].write_text(json_text(summary, indent=2) + "\n", encoding="utf-8")
    cols = timeseries(result)
    with written[1].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(cols))
        for row in zip(*cols.values(), strict=True):
            writer.writerow(["" if np.isnan(v) else f"{v:.6g}" for v in row])
    written += _plots(cols, result, out)
    return written


def _plots(cols: dict[str, NDArray[np.float64]], result: RunResult, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = cols["minute"] / 60.0
    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps a legend placed outside
        plt.close(fig)
        paths.append(path)

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(hours, cols["arrivals_total"] / 60.0, lw=0.8, label="requests/s")
    ax.set_xlabel("simulated hour")
    ax.set_ylabel("requests per second")
    ax2 = ax.twinx()
    ax2.step(hours, cols["replicas"], where="post", color="tab:red", lw=1.0, label="replicas")
    ax2.step(
        hours,
        cols["ready_replicas"],
        where="post",
        color="tab:orange",
        lw=0.8,
        ls="--",
        label="ready",
    )
    ax2.set_ylabel("replicas")
    # Below the plot: inside, it would cover the axis labels or the peak.
    fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    ax.set_title(f"Load and replicas ({result.scenario.scaling.policy})")
    save(fig, "load_replicas.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    for name in ("p50_ms", "p95_ms", "p99_ms"):
        ax.plot(hours, cols[name], lw=0.8, label=name.replace("_ms", ""))
    ax.axhline(result.scenario.slo.p95_ms, color="k", ls=":", lw=0.8, label="SLO p95")
    ax.set_yscale("log")
    ax.set_xlabel("simulated hour")
    ax.set_ylabel("latency (ms)")
    ax.legend()
    ax.set_title("Latency percentiles per minute")
    save(fig, "latency.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    for name in ("hit_ratio", "l1_hit_ratio", "l2_hit_ratio"):
        ax.plot(hours, cols[name], lw=0.8, label=name)
    ax.set_ylim(0, 1)
    ax.set_xlabel("simulated hour")
    ax.legend()
    ax.set_title("Cache hit ratios per minute")
    save(fig, "hit_ratios.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    for name in result.metrics.queue_names:
        ax.plot(hours, cols[f"queue_wait_p95_s_{name}"], lw=0.8, marker=".", ms=2, label=name)
    ax.set_xlabel("simulated hour")
    ax.set_ylabel("p95 wait (s)")
    ax.legend()
    ax.set_title("Job queue waits per minute")
    save(fig, "queue_waits.png")
    return paths
