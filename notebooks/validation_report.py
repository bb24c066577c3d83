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
# # Validation report
#
# Predicted vs measured for one measured run: the run (a `perfcore loadtest
# --out DIR` directory) is replayed through the model with a calibration, per
# endpoint and over time. Parameters come from the environment:
#
# | variable | meaning | default |
# |---|---|---|
# | `PERFCORE_MEASURED` | the measured run's directory | required |
# | `PERFCORE_SCENARIO` | scenario YAML | `benchmarks/scenarios/fidelity.yaml` |
# | `PERFCORE_CALIBRATION` | a `perfcore calibrate` overlay | none (the scenario's costs) |

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from perfcore.service.locust_report import summarize_json
from simulation import measured as m
from simulation.replay import pool_sizes, replay, trace_from_locust
from simulation.scenario import load_scenario
from simulation.validate import Tolerances, compare, format_table

repo = Path.cwd() if (Path.cwd() / "benchmarks").is_dir() else Path.cwd().parent
measured = Path(os.environ["PERFCORE_MEASURED"])
scenario_path = Path(
    os.environ.get("PERFCORE_SCENARIO", repo / "benchmarks/scenarios/fidelity.yaml")
)
calibration = os.environ.get("PERFCORE_CALIBRATION")
scenario = load_scenario(scenario_path, config_path=Path(calibration) if calibration else None)

# %% [markdown]
# ## Replay and compare

# %%
trace = trace_from_locust(m.read_locust(measured))
rep = replay(scenario, trace, pool_sizes(None), scenario.service.workers)
result = compare(
    rep, m.read_server(measured), summarize_json(measured / m.FINAL), trace.duration_s, Tolerances()
)
print(format_table(result))

# %% [markdown]
# ## Per endpoint: p95, measured (server and client side) vs predicted

# %%
names = list(result["endpoints"])
server = [result["endpoints"][n]["measured"]["latency_ms"]["p95"] or 0 for n in names]
client = [result["endpoints"][n]["measured"]["client_latency_ms"]["p95"] or 0 for n in names]
pred = [result["endpoints"][n]["predicted"]["latency_ms"]["p95"] or 0 for n in names]
x = np.arange(len(names))
fig, ax = plt.subplots(figsize=(10, 4))
ax.bar(x - 0.27, server, 0.27, label="measured (server)")
ax.bar(x, client, 0.27, label="measured (Locust)")
ax.bar(x + 0.27, pred, 0.27, label="predicted")
ax.set_xticks(x, [n.split(" ", 1)[1] for n in names], rotation=30, ha="right", fontsize=8)
ax.set_ylabel("p95 (ms)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Over time

# %%
from IPython.display import Image, display  # noqa: E402

from simulation.validate_plot import plot_over_time  # noqa: E402

out = Path(os.environ.get("PERFCORE_REPORT_DIR", "reports"))
out.mkdir(parents=True, exist_ok=True)
png = plot_over_time(rep, measured, out / "validation_over_time.png")
print(png)
display(Image(filename=str(png)))
