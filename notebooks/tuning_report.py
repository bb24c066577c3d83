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
# # Tuning report
#
# Runs `perfcore tune` on one scenario and reads its result: the screened
# trials and their Pareto front, the leaders on the full day, the
# recommendation against the starting configuration and the seed design's
# settings on fresh seeds, and the recommended configuration itself.
#
# Parameters come from the environment:
#
# | variable | meaning | default |
# |---|---|---|
# | `PERFCORE_SCENARIO` | scenario YAML | the built-in default day |
# | `PERFCORE_SET` | `;`-separated `path=value` overrides | none |
# | `PERFCORE_TRIALS` | trials screened | 20 |
# | `PERFCORE_SEEDS` | seeds per trial (and fresh seeds for the confirmation) | 3 |
# | `PERFCORE_PARAMS` | `;`-separated `path=low:high[:log][:int]` | the default space |

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt

from perfcore.config import dump_yaml
from simulation.scenario import load_scenario
from simulation.tune import tune
from simulation.tune_report import format_rows, format_table, front, trial_table
from simulation.tune_space import DEFAULT_PARAMS, Param

scenario_path = os.environ.get("PERFCORE_SCENARIO")
overrides = [s for s in os.environ.get("PERFCORE_SET", "").split(";") if s]
specs = [s for s in os.environ.get("PERFCORE_PARAMS", "").split(";") if s]
trials = int(os.environ.get("PERFCORE_TRIALS", "20"))
seeds = int(os.environ.get("PERFCORE_SEEDS", "3"))
base = load_scenario(Path(scenario_path) if scenario_path else None, overrides)
params = [Param.parse(s) for s in specs] or list(DEFAULT_PARAMS)
result = tune(base, params, trials=trials, seeds=seeds, confirm_seeds=seeds, leaders=3)
print(f"{len(result.rows)} trials on seeds {result.seeds}, {result.wall_seconds:.0f} s wall")
if result.window is not None:
    print(f"screened on {result.window.start_s / 3600:.2f} h - {result.window.end_s / 3600:.2f} h")

# %% [markdown]
# ## Recommendation, start and seed settings on fresh seeds

# %%
print(format_table(result))
origin = "the starting configuration" if result.chosen < 0 else f"trial {result.chosen}"
print(f"\nrecommended: {origin}; meets every constraint: {result.meets_constraints}")
print("gain held on fresh seeds:", result.to_json()["gain_held"])

# %% [markdown]
# ## Trials and the Pareto front (screening)

# %%
header, rows = trial_table(result)
print(format_rows(header, rows))
on_front = front(result)
print("\nPareto front:", ", ".join(str(r.number) for r in on_front))

fig, ax = plt.subplots(figsize=(7, 4))
ok = [r for r in result.rows if r.screen is not None]
ax.scatter(
    [r.screen.mean("cost_usd") for r in ok if r.screen],
    [r.screen.mean("violation_min") for r in ok if r.screen],
    c=["C2" if r.screen and r.screen.feasible else "C3" for r in ok],
)
ax.set_xlabel("cost (USD)")
ax.set_ylabel("SLO-violation minutes")
ax.set_title("screened trials (green: meets every constraint)")
plt.show()

# %% [markdown]
# ## Recommended vs start over the day (first fresh seed)

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
for name in ("start", "recommended"):
    day = result.confirmation[name].extra.get("day", {})
    if day:
        hours = [i / 60 for i in range(len(day["p95_ms"]))]
        top.plot(hours, day["p95_ms"], lw=0.8, label=name)
        bottom.plot(hours, day["replicas"], lw=1.0, label=name)
top.axhline(result.slo_p95_ms, ls="--", color="grey")
top.set_yscale("log")
top.set_ylabel("p95 (ms)")
bottom.set_ylabel("replicas")
bottom.set_xlabel("hour")
bottom.legend()
plt.show()

# %% [markdown]
# ## The recommended configuration (`recommended.yaml`)

# %%
print(dump_yaml(result.recommended))
