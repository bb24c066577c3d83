"""The workload: the day's events and the requests their attendees send, generated in chunks.

:class:`EventLayout` draws the events once (heavy-tailed sizes, overlapping
start times, organizers). :class:`Workload` then produces the arrivals of one
time chunk at a time, vectorised with numpy: for every request class and event
the expected count in each minute is the difference of that class's time
distribution (a registration ramp before the start, a check-in spike around it,
uniform page views during the event, exports after it), and the count is
Poisson with that mean, placed uniformly within the minute -- a Poisson process
with a piecewise-constant rate. Organizer dashboards are periodic, not random.

Arrivals carry the request class, the event and the cache key of the class's key
space (see :data:`simulation.scenario.KEY_SPACE`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulation.scenario import KEY_SPACE, REQUEST_CLASSES, EventsSpec, Scenario, StreamSpec

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

GRID_S = 60.0  # rate resolution: the rate is constant within each simulated minute
CLASS_ID = {name: i for i, name in enumerate(REQUEST_CLASSES)}


@dataclass(frozen=True)
class Arrivals:
    """Requests sorted by time: time (s), class id, event id, key in the class's key space."""

    time: FloatArray
    cls: NDArray[np.int8]
    event: IntArray
    key: IntArray

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @staticmethod
    def concat(parts: list[Arrivals]) -> Arrivals:
        if not parts:
            return Arrivals(
                np.empty(0), np.empty(0, np.int8), np.empty(0, np.int64), np.empty(0, np.int64)
            )
        time = np.concatenate([p.time for p in parts])
        order = np.argsort(time, kind="stable")
        return Arrivals(
            time[order],
            np.concatenate([p.cls for p in parts])[order],
            np.concatenate([p.event for p in parts])[order],
            np.concatenate([p.key for p in parts])[order],
        )


@dataclass(frozen=True)
class EventLayout:
    """The events of the day, drawn once from the scenario."""

    size: IntArray
    first_attendee: IntArray
    start: FloatArray
    duration: FloatArray
    sessions: int
    organizers: IntArray
    org_event: IntArray  # one entry per organizer
    org_phase: FloatArray

    @property
    def count(self) -> int:
        return int(self.size.shape[0])

    @property
    def end(self) -> FloatArray:
        return self.start + self.duration

    @classmethod
    def draw(cls, scenario: Scenario, rng: np.random.Generator) -> EventLayout:
        spec = scenario.workload.events
        n = spec.count
        raw = rng.lognormal(0.0, spec.size_sigma, n) if n else np.empty(0)
        # Scale the heavy-tailed draw to the requested total, keeping every event >= min.
        spare = max(spec.total_attendees - spec.min_attendees * n, 0)
        size = spec.min_attendees + np.floor(raw / max(raw.sum(), 1e-12) * spare).astype(np.int64)
        first = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        start = rng.uniform(spec.first_start_h, spec.last_start_h, n) * 3600.0
        duration = rng.uniform(spec.duration_h[0], spec.duration_h[1], n) * 3600.0
        per_org = spec.attendees_per_organizer
        organizers = np.maximum(1, -(-size // per_org)).astype(np.int64)
        org_event = np.repeat(np.arange(n, dtype=np.int64), organizers)
        poll = scenario.workload.behaviour.dashboard_poll_s
        org_phase = rng.uniform(0.0, poll, org_event.shape[0])
        if spec.start_waves and n:
            start = _wave_starts(spec, start, rng)
        return cls(
            size, first, start, duration, spec.sessions_per_event, organizers, org_event, org_phase
        )


def _wave_starts(spec: EventsSpec, uniform: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Start times where each wave's share of events starts around its centre (the rest keep
    their uniform draw), clipped to [first_start_h, last_start_h]."""
    shares = np.array([w.share for w in spec.start_waves])
    pick = rng.choice(len(shares) + 1, size=uniform.shape[0], p=[*shares, 1.0 - shares.sum()])
    centre = np.array([w.centre_h for w in spec.start_waves] + [0.0])[pick]
    sd = np.array([w.sd_h for w in spec.start_waves] + [1.0])[pick]
    waved = np.clip(rng.normal(centre, sd), spec.first_start_h, spec.last_start_h) * 3600.0
    return np.where(pick < len(shares), waved, uniform)


# A class's time distribution per event: CDF evaluated at times (broadcast: grid x events).
Cdf = Callable[[FloatArray], FloatArray]


class Workload:
    """Arrivals of the scenario, one chunk at a time (call :meth:`chunk` in time order)."""

    def __init__(self, scenario: Scenario, layout: EventLayout, rng: np.random.Generator) -> None:
        self.scenario = scenario
        self.layout = layout
        self.rng = rng
        b = scenario.workload.behaviour
        ev = scenario.workload.events
        size = layout.size.astype(np.float64)
        s, d = layout.start, layout.duration
        w = ev.registration_window_h * 3600.0
        spike = b.checkin_spread_min * 60.0 * math.sqrt(3.0) / math.pi  # logistic scale for that sd
        centre = s - b.checkin_before_start_min * 60.0

        def ramp(t: FloatArray) -> FloatArray:
            return np.clip((t - (s - w)) / w, 0.0, 1.0) ** 2

        def during(t: FloatArray) -> FloatArray:
            return np.clip((t - s) / d, 0.0, 1.0)

        def checkin(t: FloatArray) -> FloatArray:
            return 1.0 / (1.0 + np.exp(-np.clip((t - centre) / spike, -60, 60)))

        def detail(t: FloatArray) -> FloatArray:
            return 0.5 * ramp(t) + 0.5 * during(t)

        def after(t: FloatArray) -> FloatArray:
            return np.clip((t - (s + d)) / 3600.0, 0.0, 1.0)

        sale = scenario.workload.ticket_sales
        opens = np.maximum(s - sale.open_before_start_h * 3600.0, 0.0)
        tau = sale.decay_min * 60.0

        def burst(t: FloatArray) -> FloatArray:
            return 1.0 - np.exp(-np.maximum(t - opens, 0.0) / tau)

        # Buyers of the largest events come in the sale's burst instead of the ramp.
        buyers = np.zeros(layout.count)
        if sale.largest_events and layout.count:
            top = np.argsort(-layout.size, kind="stable")[: sale.largest_events]
            buyers[top] = size[top] * b.register_fraction * sale.share
        # (class, expected count per event, CDF over time)
        self.sources: list[tuple[int, FloatArray, Cdf]] = [
            (CLASS_ID["register"], size * b.register_fraction - buyers, ramp),
            (CLASS_ID["register"], buyers, burst),
            (CLASS_ID["event_detail"], buyers * sale.detail_views_per_buyer, burst),
            (CLASS_ID["list_active_events"], buyers * sale.listing_views_per_buyer, burst),
            (CLASS_ID["check_in"], size * b.checkin_fraction, checkin),
            (CLASS_ID["event_detail"], size * b.detail_views, detail),
            (CLASS_ID["attendee_profile"], size * b.profile_views, during),
            (CLASS_ID["session_page"], size * b.session_views, during),
            (CLASS_ID["list_active_events"], size * b.listing_views, ramp),
            (CLASS_ID["export_report"], np.full(layout.count, b.exports_per_event), after),
        ]
        self.sources = [src for src in self.sources if src[1].sum() > 0]

    def expected_requests(self) -> float:
        """Mean number of requests over the horizon."""
        return sum(self.expected_by_class().values())

    def expected_by_class(self) -> dict[str, float]:
        """Mean number of requests of each class over the horizon (the scenario's mix)."""
        h = self.scenario.horizon_s
        mix = dict.fromkeys(REQUEST_CLASSES, 0.0)
        for cls_id, n, cdf in self.sources:
            mass = float((n * (cdf(np.array([[h]])) - cdf(np.array([[0.0]])))).sum())
            mix[REQUEST_CLASSES[cls_id]] += mass
        polls = float(self._poll_counts(0.0, h)[1].sum())  # counted, never materialised
        mix["organizer_dashboard"] += polls
        for st in self.scenario.workload.streams:
            mix[st.request_class] += _stream_mass(st, 0.0, h, h)
        return mix

    def expected_counts(self, edges: FloatArray) -> dict[str, FloatArray]:
        """Mean arrivals of each class in each interval ``[edges[i], edges[i+1])`` (a load plan)."""
        counts = {name: np.zeros(edges.shape[0] - 1) for name in REQUEST_CLASSES}
        if self.layout.count:
            for cls_id, n, cdf in self.sources:
                counts[REQUEST_CLASSES[cls_id]] += (n * np.diff(cdf(edges[:, None]), axis=0)).sum(
                    axis=1
                )
            times, _ = self._poll_times(float(edges[0]), float(edges[-1]))
            counts["organizer_dashboard"] += np.histogram(times, bins=edges)[0]
        h = self.scenario.horizon_s
        for st in self.scenario.workload.streams:
            cum = np.array([_stream_mass(st, 0.0, float(e), h) for e in edges])
            counts[st.request_class] += np.diff(cum)
        return counts

    def chunk(self, t0: float, t1: float) -> Arrivals:
        """All arrivals with ``t0 <= time < t1``, sorted."""
        grid = np.arange(t0, t1, GRID_S)
        edges = np.append(grid, t1)
        parts: list[Arrivals] = []
        if self.layout.count:
            for cls_id, count, cdf in self.sources:
                mass = count * np.diff(cdf(edges[:, None]), axis=0)  # minutes x events
                parts.append(self._place(cls_id, mass, edges))
            times, events = self._poll_times(t0, t1)
            parts.append(self._arrivals(CLASS_ID["organizer_dashboard"], times, events))
        for stream in self.scenario.workload.streams:
            parts.append(self._stream(stream, edges))
        arrivals = Arrivals.concat(parts)
        windows = self.scenario.workload.traffic_windows
        if windows is not None:
            keep = np.zeros(len(arrivals), dtype=bool)
            for lo, hi in windows:
                keep |= (arrivals.time >= lo) & (arrivals.time < hi)
            a = arrivals
            arrivals = Arrivals(a.time[keep], a.cls[keep], a.event[keep], a.key[keep])
        return arrivals

    # -------------------------------------------------------------- helpers

    def _place(self, cls_id: int, mass: FloatArray, edges: FloatArray) -> Arrivals:
        counts = self.rng.poisson(np.maximum(mass, 0.0))
        minute, event = np.nonzero(counts)
        reps = counts[minute, event]
        minute, event = np.repeat(minute, reps), np.repeat(event, reps)
        width = (edges[1:] - edges[:-1])[minute]
        times = edges[minute] + self.rng.random(minute.shape[0]) * width
        return self._arrivals(cls_id, times, event.astype(np.int64))

    def _arrivals(self, cls_id: int, times: FloatArray, events: IntArray) -> Arrivals:
        space = KEY_SPACE[REQUEST_CLASSES[cls_id]]
        lay = self.layout
        if space == "attendee":
            keys = lay.first_attendee[events] + (
                self.rng.random(events.shape[0]) * lay.size[events]
            ).astype(np.int64)
        elif space == "session":
            keys = events * lay.sessions + self.rng.integers(0, lay.sessions, events.shape[0])
        elif space == "event":
            keys = events
        else:
            keys = np.zeros_like(events)
        cls = np.full(times.shape[0], cls_id, dtype=np.int8)
        return Arrivals(times, cls, events, keys.astype(np.int64))

    def _poll_counts(self, t0: float, t1: float) -> tuple[IntArray, IntArray]:
        """Per organizer: the index of its first poll in [t0, t1), and how many it makes."""
        lay, b = self.layout, self.scenario.workload.behaviour
        period = b.dashboard_poll_s
        ev = lay.org_event
        lo = np.maximum(t0, lay.start[ev] - b.dashboard_lead_h * 3600.0)
        hi = np.minimum(t1, lay.end[ev])
        k0 = np.ceil((lo - lay.org_phase) / period).astype(np.int64)
        k1 = np.ceil((hi - lay.org_phase) / period).astype(np.int64)
        return k0, np.maximum(k1 - k0, 0)

    def _poll_times(self, t0: float, t1: float) -> tuple[FloatArray, IntArray]:
        """Every dashboard poll in [t0, t1): each organizer polls with its own phase."""
        lay, period = self.layout, self.scenario.workload.behaviour.dashboard_poll_s
        ev = lay.org_event
        k0, n = self._poll_counts(t0, t1)
        owner = np.repeat(np.arange(ev.shape[0]), n)
        step = np.arange(owner.shape[0]) - np.repeat(np.cumsum(n) - n, n)
        times = lay.org_phase[owner] + (k0[owner] + step) * period
        return times, ev[owner]

    def _stream(self, stream: StreamSpec, edges: FloatArray) -> Arrivals:
        h = self.scenario.horizon_s
        cum = np.array([_stream_mass(stream, 0.0, e, h) for e in edges])
        counts = self.rng.poisson(np.diff(cum))
        minute = np.repeat(np.arange(counts.shape[0]), counts)
        times = edges[minute] + self.rng.random(minute.shape[0]) * np.diff(edges)[minute]
        keys: IntArray = np.asarray(
            self.rng.integers(0, stream.keys, size=times.shape[0]), dtype=np.int64
        )
        cls_id = CLASS_ID[stream.request_class]
        space = KEY_SPACE[stream.request_class]
        lay = self.layout
        events: IntArray
        if space == "event":
            events = keys
        elif space == "session":
            events = keys // lay.sessions
        elif space == "attendee" and lay.count:
            events = np.asarray(np.searchsorted(lay.first_attendee, keys, side="right") - 1)
        else:
            events = np.zeros_like(keys)
        cls = np.full(times.shape[0], cls_id, dtype=np.int8)
        return Arrivals(times, cls, events.astype(np.int64), keys)


def _stream_mass(stream: StreamSpec, t0: float, t: float, horizon: float) -> float:
    """Expected arrivals of ``stream`` in [t0, t]: the integral of its ramped rate."""
    end = stream.end_s if stream.end_s is not None else horizon

    def integral(x: float) -> float:
        x = min(max(x, stream.start_s), end) - stream.start_s
        ramp = stream.ramp_s
        if ramp <= 0 or x >= ramp:
            return stream.rate_per_s * (x - ramp / 2 if ramp > 0 else x)
        return stream.rate_per_s * x * x / (2 * ramp)

    return integral(t) - integral(t0)


def key_space_sizes(scenario: Scenario, layout: EventLayout) -> dict[str, int]:
    """How many keys each key space needs (events, attendees, sessions, plus stream keys)."""
    sizes = {
        "global": 1,
        "event": layout.count,
        "attendee": int(layout.size.sum()),
        "session": layout.count * layout.sessions,
    }
    for stream in scenario.workload.streams:
        space = KEY_SPACE[stream.request_class]
        sizes[space] = max(sizes[space], stream.keys)
    return {k: max(v, 1) for k, v in sizes.items()}


def request_mix(scenario: Scenario) -> dict[str, float]:
    """The share of each request class in the scenario's day (sums to 1; Locust's weights)."""
    layout = EventLayout.draw(scenario, np.random.default_rng(scenario.seed))
    expected = Workload(scenario, layout, np.random.default_rng(scenario.seed)).expected_by_class()
    total = sum(expected.values()) or 1.0
    return {name: n / total for name, n in expected.items()}
