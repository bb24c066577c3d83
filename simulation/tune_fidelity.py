"""Fidelities of a tuning evaluation: the busiest window of the day (screening) or the whole day.

Screening simulates only the window whose expected CPU demand is highest: the
scenario's horizon ends with the window and requests before it are dropped
(``workload.traffic_from_s``), with a warm-up so caches and replicas are not
cold when the peak arrives. Jobs still run over the whole clipped horizon.
The window comes from the workload's expected rates, not from a draw, so every
seed and every trial screens the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.scenario import REQUEST_CLASSES, Scenario
from simulation.workload import GRID_S, EventLayout, Workload, _stream_mass

WARMUP_S = 900.0  # traffic before the window: fills caches, lets the autoscaler react
SETTLE_S = 300.0  # after the window: queues drain into the measured minutes


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float

    @property
    def hours(self) -> float:
        return (self.end_s - self.start_s) / 3600.0


def cpu_demand_per_minute(scenario: Scenario) -> np.ndarray:
    """Expected CPU seconds of requests per simulated minute (the seed's event layout)."""
    rng = np.random.default_rng(scenario.seed)
    layout = EventLayout.draw(scenario, rng)
    wl = Workload(scenario, layout, rng)
    h = scenario.horizon_s
    edges = np.append(np.arange(0.0, h, GRID_S), h)
    cpu = scenario.infrastructure.request_classes
    demand = np.zeros(edges.shape[0] - 1)
    if layout.count:
        for cls_id, count, cdf in wl.sources:
            per_minute = (count * np.diff(cdf(edges[:, None]), axis=0)).sum(axis=1)
            demand += per_minute * cpu[REQUEST_CLASSES[cls_id]].cpu_ms / 1000.0
        times, _ = wl._poll_times(0.0, h)
        polls = np.histogram(times, bins=edges)[0]
        demand += polls * cpu["organizer_dashboard"].cpu_ms / 1000.0
    for st in scenario.workload.streams:
        mass = np.diff([_stream_mass(st, 0.0, e, h) for e in edges])
        demand += mass * cpu[st.request_class].cpu_ms / 1000.0
    return demand


def busiest_window(scenario: Scenario, length_s: float = 3600.0) -> Window:
    """The ``length_s`` window with the highest expected CPU demand."""
    demand = cpu_demand_per_minute(scenario)
    width = max(1, min(int(length_s // GRID_S), demand.shape[0]))
    sums = np.convolve(demand, np.ones(width), mode="valid")
    first = int(np.argmax(sums))
    return Window(first * GRID_S, min((first + width) * GRID_S, scenario.horizon_s))


def screening(scenario: Scenario, window: Window) -> Scenario:
    """The scenario cut to ``window`` (with warm-up and settle time); unchanged if no shorter."""
    start = max(window.start_s - WARMUP_S, 0.0)
    end = min(window.end_s + SETTLE_S, scenario.horizon_s)
    if start <= 0.0 and end >= scenario.horizon_s:
        return scenario
    workload = scenario.workload.model_copy(update={"traffic_from_s": start})
    return scenario.model_copy(update={"horizon_s": end, "workload": workload})
