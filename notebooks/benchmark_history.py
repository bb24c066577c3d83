# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Benchmark history
#
# Every run saved by `make bench-save` (pytest-benchmark JSON under
# `benchmarks/baselines/<machine class>/`), over time, one panel per
# benchmark: the median of each run, and the change from the first run to the
# last.  The gate's benchmarks are instruction counts (pytest-benchmark
# seconds x 1e9); other groups are shown in seconds.
#
# | variable | meaning | default |
# |---|---|---|
# | `PERFCORE_BENCH_STORAGE` | folder of saved runs (searched recursively) | `benchmarks/baselines` |
# | `PERFCORE_REPORTS` | where `benchmark_history.png` goes | `reports` |

# %%
import json
import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import matplotlib.pyplot as plt

storage = Path(os.environ.get("PERFCORE_BENCH_STORAGE", "benchmarks/baselines"))
reports = Path(os.environ.get("PERFCORE_REPORTS", "reports"))
runs = sorted(storage.glob("**/[0-9][0-9][0-9][0-9]_*.json"), key=lambda p: (p.parent, p.name))
print(f"{len(runs)} saved runs in {storage}")

# %%
# name -> [(when, median, commit, machine class)], in the order the runs were saved
history: dict[str, list[tuple[datetime, float, str, str]]] = defaultdict(list)
units: dict[str, str] = {}
for path in runs:
    run = json.loads(path.read_text())
    when = datetime.fromisoformat(run["datetime"])
    commit = run["commit_info"].get("id", "?")[:7]
    machine = run["machine_info"].get("perfcore", {}).get("machine_class", path.parent.name)
    for bench in run["benchmarks"]:
        counts = bench["group"] == "instructions"
        units[bench["name"]] = "instructions" if counts else "s"
        median = bench["stats"]["median"] * (1e9 if counts else 1.0)
        history[bench["name"]].append((when, median, commit, machine))

# %%
print(f"{'benchmark':40} {'runs':>4} {'first':>16} {'last':>16} {'change':>8}")
for name, points in sorted(history.items()):
    first, last = points[0][1], points[-1][1]
    change = f"{last / first - 1:+.1%}" if first else "n/a"
    print(f"{name:40} {len(points):4d} {first:16,.0f} {last:16,.0f} {change:>8}  {units[name]}")

# %%
if history:
    names = sorted(history)
    figure, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 * len(names)), squeeze=False)
    for axis, name in zip(axes[:, 0], names, strict=True):
        points = history[name]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        for when, median, commit, _ in points:
            axis.annotate(
                commit, (when, median), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        axis.set_title(name, fontsize=9)
        axis.set_ylabel(units[name], fontsize=8)
        axis.set_ylim(bottom=0)
    figure.tight_layout()
    reports.mkdir(parents=True, exist_ok=True)
    figure.savefig(reports / "benchmark_history.png", dpi=90)
    print(f"wrote {reports / 'benchmark_history.png'}")
