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
# # Index advisor report
#
# Reads the JSON report of `perfcore db advise --json --out DIR` (best with
# `--measure-latency`, which times every statement before any candidate and
# with the chosen indexes) and shows, per statement, the measured latency
# before and after; per index, its size and the statements it serves; and
# every rejected candidate with the reason.
#
# | variable | meaning | default |
# |---|---|---|
# | `PERFCORE_ADVISOR_REPORT` | `dbopt-report.json` of an `advise --out` run | `reports/dbopt-report.json` |

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt

path = Path(os.environ.get("PERFCORE_ADVISOR_REPORT", "reports/dbopt-report.json"))
report = json.loads(path.read_text())
print(f"database {report['database']} on {report['server']}; applied: {report['applied']}")
print(f"slow query shapes: {report['slowQueriesFound']}, indexes: {len(report['suggestions'])}")
for warning in report.get("warnings", []):
    print("warning:", warning)


# %%
def short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:9.2f}"


# %% [markdown]
# ## Statements: measured before and after

# %%
rows = []
print(f"{'count':>6} {'before ms':>9} {'after ms':>9} {'ratio':>6}  statement")
for query in report["queries"]:
    before, after = query.get("latency_before_ms"), query.get("latency_after_ms")
    ratio = after / before if before and after is not None else None
    note = f"  (skipped: {query['skipped']})" if query["skipped"] else ""
    shown = "-" if ratio is None else f"{ratio:6.2f}"
    print(
        f"{query['count']:6d} {ms(before)} {ms(after)} {shown:>6}  {short(query['fingerprint'])}{note}"
    )
    if before and after is not None:
        rows.append((short(query["fingerprint"], 40), before, after))
slower = [r for r in rows if r[2] >= 1.25 * r[1]]
print(f"statements measured: {len(rows)}; slower by 1.25x or more: {len(slower)}")

# %%
if rows:
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(rows) + 1))
    labels = [r[0] for r in rows]
    axis.barh(labels, [r[1] for r in rows], label="before", alpha=0.6)
    axis.barh(labels, [r[2] for r in rows], label="with the chosen indexes", alpha=0.8)
    axis.set_xscale("log")
    axis.set_xlabel("median latency (ms, log scale)")
    axis.legend(loc="lower right")
    figure.tight_layout()
    plt.show()

# %% [markdown]
# ## Chosen indexes

# %%
total = 0
for index in report["suggestions"]:
    total += index["size_bytes"]
    print(f"{index['name']}: {index['size_bytes'] / 2**20:.1f} MiB (estimated),"
          f" saves {index['benefit_s']:.3f} s per log window, serves {len(index['queries'])}")  # fmt: skip
    print(f"    {index['ddl']}")
print(f"index size in all: {total / 2**20:.1f} MiB")

# %% [markdown]
# ## Rejected candidates

# %%
for rejected in report["rejected"]:
    print(f"{rejected['table']} ({', '.join(rejected['columns'])}): {rejected['reason']}")
print(f"rejected candidates: {len(report['rejected'])}")
