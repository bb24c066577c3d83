"""The validation plot: predicted vs measured latency and throughput over the run.

Predicted: p50/p95 of the replayed requests per 10-second window and their
rate. Measured: Locust's history (``locust_stats_history.csv``, the
Aggregated row: its current-window percentiles and request rate, client-side).
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulation.replay import Replayed

WINDOW_S = 10.0


def _measured(history: Path) -> tuple[list[float], list[float], list[float], list[float]]:
    t: list[float] = []
    p50: list[float] = []
    p95: list[float] = []
    rps: list[float] = []
    if not history.is_file():
        return t, p50, p95, rps
    with history.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("Name") == "Aggregated"]
    if not rows:
        return t, p50, p95, rps
    t0 = float(rows[0]["Timestamp"])
    for r in rows:
        try:
            a, b, c = float(r["50%"]), float(r["95%"]), float(r["Requests/s"])
        except (KeyError, ValueError):
            continue
        t.append(float(r["Timestamp"]) - t0)
        p50.append(a)
        p95.append(b)
        rps.append(c)
    return t, p50, p95, rps


def plot_over_time(rep: Replayed, measured: Path | None, path: Path) -> Path:
    """Write the PNG; returns its path."""
    fig, (lat, rate) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    if rep.time.size:
        edges = np.arange(0.0, float(rep.time.max()) + WINDOW_S, WINDOW_S)
        idx = np.digitize(rep.time, edges) - 1
        mids, q50, q95, rr = [], [], [], []
        for i in range(len(edges) - 1):
            sel = rep.latency_ms[idx == i]
            if sel.size:
                mids.append(edges[i] + WINDOW_S / 2)
                q50.append(float(np.percentile(sel, 50)))
                q95.append(float(np.percentile(sel, 95)))
                rr.append(sel.size / WINDOW_S)
        lat.plot(mids, q95, label="predicted p95", color="C1")
        lat.plot(mids, q50, label="predicted p50", color="C1", linestyle="--")
        rate.plot(mids, rr, label="replayed req/s", color="C1")
    if measured is not None:
        t, p50, p95, rps = _measured(measured / "locust_stats_history.csv")
        lat.plot(t, p95, label="measured p95 (Locust)", color="C0")
        lat.plot(t, p50, label="measured p50 (Locust)", color="C0", linestyle="--")
        rate.plot(t, rps, label="measured req/s (Locust)", color="C0")
    lat.set_ylabel("latency (ms)")
    rate.set_ylabel("requests/s")
    rate.set_xlabel("seconds into the run")
    for ax in (lat, rate):
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
