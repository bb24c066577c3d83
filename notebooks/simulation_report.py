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
# # Simulation report
#
# Runs the SimPy model of the platform on one scenario and plots its day
# minute by minute: load by request class, latency against the SLO, replicas
# and CPU, cache hit ratios, job queues.  Optionally puts a Locust run of the
# reference API (`perfcore loadtest --out DIR`) next to the simulated
# latencies.
#
# Parameters come from the environment so the same notebook serves every
# scenario (see `docs/loadtests.md` for how to execute it):
#
# | variable | meaning | default |
# |---|---|---|
# | `PERFCORE_SCENARIO` | scenario YAML | the built-in default day |
# | `PERFCORE_SET` | `;`-separated `path=value` overrides | none |
# | `PERFCORE_LOADTEST_SUMMARY` | `summary.json` of a `perfcore loadtest --out` run | none |

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt

from perfcore.platform import PLATFORM
from simulation.report import timeseries
from simulation.run import simulate
from simulation.scenario import REQUEST_CLASSES, load_scenario

# %% tags=["parameters"]
SCENARIO = os.environ.get("PERFCORE_SCENARIO") or None
OVERRIDES = [item.strip() for item in os.environ.get("PERFCORE_SET", "").split(";") if item.strip()]
LOADTEST_SUMMARY = os.environ.get("PERFCORE_LOADTEST_SUMMARY") or None

# %%
scenario = load_scenario(Path(SCENARIO) if SCENARIO else None, OVERRIDES)
result = simulate(scenario)
summary = result.summary()
cols = timeseries(result)
hours = cols["minute"] / 60.0
print(f"scenario: {SCENARIO or 'built-in default'}; overrides: {OVERRIDES or 'none'}")
print(
    f"{summary['requests']:,} requests over {summary['sim_seconds'] / 3600:.1f} simulated hours "
    f"in {summary['wall_seconds']:.1f} s wall time"
)

# %% [markdown]
# ## Summary
#
# The same object `perfcore simulate --json` prints.

# %%
headline = {
    "latency_ms": summary["latency_ms"],
    "cache": summary["cache"],
    "replicas": summary["replicas"],
    "slo": summary["slo"],
    "cost": summary["cost"],
    "queues": {
        name: {"jobs": q["jobs"], "wait_p95_s": q["wait_p95_s"]}
        for name, q in summary["queues"].items()
    },
}
print(json.dumps(headline, indent=2))

# %% [markdown]
# ## Load by request class
#
# Registrations ramp up before each event; check-ins spike just before it
# starts.  The Locust users in `loadtests/` use the same behaviour weights.

# %%
fig, ax = plt.subplots(figsize=(11, 4))
stack = [cols[f"arrivals_{name}"] / 60.0 for name in REQUEST_CLASSES]
ax.stackplot(hours, stack, labels=REQUEST_CLASSES, linewidth=0)
ax.set_xlabel("simulated hour")
ax.set_ylabel("requests / s")
ax.legend(loc="upper left", fontsize=8, ncol=2)
ax.set_title("Arrivals per second, by request class")
plt.show()

total = sum(summary["requests_by_class"].values())
for name, count in sorted(summary["requests_by_class"].items(), key=lambda kv: -kv[1]):
    print(f"{name:<22}{count:>12,}{100 * count / total:>8.1f} %")

# %% [markdown]
# ## Latency against the SLO

# %%
fig, ax = plt.subplots(figsize=(11, 4))
for q in ("p50", "p95", "p99"):
    ax.plot(hours, cols[f"{q}_ms"], label=q, linewidth=1)
ax.axhline(scenario.slo.p95_ms, color="red", linestyle="--", linewidth=1, label="SLO (p95)")
ax.set_yscale("log")
ax.set_xlabel("simulated hour")
ax.set_ylabel("ms")
ax.legend()
ax.set_title(
    f"Latency per minute ({summary['slo']['violation_minutes']:.0f} minutes violate the SLO)"
)
plt.show()

# %% [markdown]
# ## Replicas and CPU
#
# The autoscaler here is the production policy object
# (`perfcore.scaling.policies`), configured by the scenario's `scaling` section.

# %%
fig, ax = plt.subplots(figsize=(11, 4))
ax.step(hours, cols["replicas"], where="post", label="replicas")
ax.step(hours, cols["ready_replicas"], where="post", label="ready", linestyle=":")
ax.set_xlabel("simulated hour")
ax.set_ylabel("pods")
ax2 = ax.twinx()
ax2.plot(hours, cols["cpu_utilisation"], color="grey", linewidth=0.8, label="CPU")
ax2.set_ylabel("CPU utilisation")
ax2.set_ylim(0, 1.05)
ax.legend(loc="upper left")
ax.set_title(f"Replicas ({scenario.scaling.policy} policy) and CPU utilisation")
plt.show()

# %% [markdown]
# ## Cache hit ratios

# %%
fig, ax = plt.subplots(figsize=(11, 3.5))
for name in ("hit_ratio", "l1_hit_ratio", "l2_hit_ratio"):
    ax.plot(hours, cols[name], label=name, linewidth=1)
ax.set_ylim(0, 1.02)
ax.set_xlabel("simulated hour")
ax.legend()
ax.set_title("Cache hit ratios per minute")
plt.show()

# %% [markdown]
# ## Job queues

# %%
queue_names = [
    name.removeprefix("queue_depth_") for name in cols if name.startswith("queue_depth_")
]
fig, (depth_ax, wait_ax) = plt.subplots(1, 2, figsize=(12, 3.5))
for name in queue_names:
    depth_ax.plot(hours, cols[f"queue_depth_{name}"], label=name, linewidth=1)
    wait_ax.plot(hours, cols[f"queue_wait_p95_s_{name}"], ".", markersize=2, label=name)
depth_ax.set_title("waiting jobs")
wait_ax.set_title("p95 wait (s) of jobs started that minute")
for ax in (depth_ax, wait_ax):
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated hour")
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Measured (Locust) next to simulated
#
# Only when `PERFCORE_LOADTEST_SUMMARY` names a `summary.json`.  A local run
# is small and hits one process, so compare shapes (which endpoints are slow,
# how far p99 is from p50), not absolute numbers.

# %%
ENDPOINT_CLASS = {
    f"{rc.endpoint.method} {rc.endpoint.path}": name
    for name, rc in PLATFORM.request_classes.items()
}
if LOADTEST_SUMMARY:
    measured = json.loads(Path(LOADTEST_SUMMARY).read_text())
    sim_lat = summary["latency_ms"]
    print(f"{'endpoint':<42}{'class':<22}{'reqs':>7}{'p50':>7}{'p95':>7}{'p99':>7}  (ms, measured)")
    for endpoint, item in measured["endpoints"].items():
        lat = item["latency_ms"]
        cells = "".join(f"{v:>7.0f}" if v is not None else f"{'-':>7}" for v in lat.values())
        print(f"{endpoint:<42}{ENDPOINT_CLASS.get(endpoint, '?'):<22}{item['requests']:>7}{cells}")
    m = measured["latency_ms"]
    print(f"\nall requests, measured:  p50 {m['p50']} p95 {m['p95']} p99 {m['p99']} ms")
    print(
        f"all requests, simulated: p50 {sim_lat['p50']} p95 {sim_lat['p95']} p99 {sim_lat['p99']} ms"
    )
else:
    print("no load-test summary given (set PERFCORE_LOADTEST_SUMMARY=path/summary.json)")
