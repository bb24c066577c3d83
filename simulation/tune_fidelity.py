"""Fidelities of a tuning evaluation: the day's peaks only (screening) or the whole day.

Screening keeps the requests of a few windows of the day
(``workload.traffic_windows``) and drops the rest: the hour with the highest
expected CPU demand, and the sharpest minute-level peaks (ticket-sale crowds)
at least half as high as the day's sharpest,
each with a warm-up so caches and replicas are not cold when the peak
arrives. The horizon ends with the last window; jobs still run throughout.
Windows come from the workload's expected rates, not from a draw, so every
seed and every trial screens the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.scenario import REQUEST_CLASSES, Scenario
from simulation.workload import GRID_S, EventLayout, Workload, _stream_mass

WARMUP_S = 900.0  # traffic before a window: fills caches, lets the autoscaler react
SETTLE_S = 300.0  # after a window: queues drain into the measured minutes
PEAKS = 3  # sharpest minute-level peaks screened besides the busiest hour
PEAK_SHARE = 0.5  # ... if at least this share of the day's sharpest minute
PEAK_BEFORE_S, PEAK_AFTER_S = 1800.0, 900.0


@dataclass(frozen=True)
class Window:
    """Screened spans of the day, ``[start_s, end_s)`` each, sorted and disjoint."""

    spans: tuple[tuple[float, float], ...]

    @property
    def start_s(self) -> float:
        return self.spans[0][0]

    @property
    def end_s(self) -> float:
        return self.spans[-1][1]

    @property
    def hours(self) -> float:
        return sum(b - a for a, b in self.spans) / 3600.0


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
    """The busiest ``length_s`` hour plus the sharpest minute peaks, merged where they overlap."""
    demand = cpu_demand_per_minute(scenario)
    h = scenario.horizon_s
    width = max(1, min(int(length_s // GRID_S), demand.shape[0]))
    first = int(np.argmax(np.convolve(demand, np.ones(width), mode="valid")))
    spans = [(first * GRID_S, min((first + width) * GRID_S, h))]
    taken = np.zeros(demand.shape[0], dtype=bool)
    taken[max(first - 60, 0) : first + width + 60] = True
    floor = PEAK_SHARE * float(demand.max(initial=0.0))
    for _ in range(PEAKS):
        free = np.where(taken, -np.inf, demand)
        peak = int(np.argmax(free))
        if not np.isfinite(free[peak]) or free[peak] <= 0 or free[peak] < floor:
            break
        t = peak * GRID_S
        spans.append((max(t - PEAK_BEFORE_S, 0.0), min(t + PEAK_AFTER_S, h)))
        taken[max(peak - 90, 0) : peak + 90] = True  # the next peak is another crowd
    return Window(_merge(spans))


def _merge(spans: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


def screening(scenario: Scenario, window: Window) -> Scenario:
    """The scenario cut to ``window`` (warm-up before each span); unchanged if no shorter."""
    spans = _merge(
        [(max(a - WARMUP_S, 0.0), min(b + SETTLE_S, scenario.horizon_s)) for a, b in window.spans]
    )
    if spans == ((0.0, scenario.horizon_s),):
        return scenario
    workload = scenario.workload.model_copy(update={"traffic_windows": [list(s) for s in spans]})
    return scenario.model_copy(update={"horizon_s": spans[-1][1], "workload": workload})
