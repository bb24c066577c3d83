"""Measurements of a run: per-minute series, fixed-bucket latency histograms, exact totals.

Latencies are never kept one by one: every minute has a histogram over
logarithmic buckets (2 % wide, so a percentile read back from it is within
1 % of the exact value), and the totals that theory is checked against (sums of
waits and sojourn times, counts) are kept exactly. The number of requests in
the system is sampled every second to check Little's law (L = lambda W) with
a measurement independent of the sojourn times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from simulation.model.requests import L1_HIT, L2_HIT, MISS, Served

# Not HdrHistogram or DDSketch: both record one value per Python call. On 200,000
# lognormal latencies (median 40 ms) this numpy bincount took 11.5 ns/value with
# p50/p95/p99 within 0.74 % of exact; HdrHistogram (2 digits) 1,401 ns/value (122x),
# within 0.45 %; DDSketch (1 %) 821 ns/value (71x), within 0.74 % (the same log buckets).
LOW_MS = 1e-3
GROWTH = 1.02
BUCKETS = math.ceil(math.log(1e10) / math.log(GROWTH))  # 1 us .. 10^7 ms
_LOG_GROWTH = math.log(GROWTH)
SAMPLE_S = 1.0  # in-system sampling period


def bucket_of(ms: NDArray[np.float64]) -> NDArray[np.int64]:
    raw = np.floor(np.log(np.maximum(ms, LOW_MS) / LOW_MS) / _LOG_GROWTH)
    return np.clip(raw, 0, BUCKETS - 1).astype(np.int64)


def bucket_value(index: NDArray[np.int64] | int) -> NDArray[np.float64]:
    """Geometric centre of a bucket, in ms."""
    return np.asarray(LOW_MS * GROWTH ** (np.asarray(index) + 0.5), dtype=np.float64)


def percentiles(hist: NDArray[np.int64], qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0..1) of one histogram, in ms; NaN when empty."""
    total = int(hist.sum())
    if total == 0:
        return [math.nan for _ in qs]
    cum = np.cumsum(hist)
    return [float(bucket_value(int(np.searchsorted(cum, q * total)))) for q in qs]


def per_row_percentile(hist: NDArray[np.int64], q: float) -> NDArray[np.float64]:
    """One percentile per row (minute) of a histogram matrix; NaN for empty rows."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1]
    idx = (cum >= (q * total)[:, None]).argmax(axis=1)
    out = bucket_value(idx)
    out[total == 0] = math.nan
    return out


@dataclass
class Totals:
    """Exact sums over every request, per class."""

    count: NDArray[np.int64]
    wait_sum: NDArray[np.float64]  # time before an API slot was free
    waited: NDArray[np.int64]  # requests that waited at all
    sojourn_sum: NDArray[np.float64]
    in_system_sum: float = 0.0
    in_system_samples: int = 0


@dataclass
class Metrics:
    """Everything measured while the model runs, per simulated minute and in total."""

    horizon_s: float
    n_classes: int
    queue_names: list[str]
    minutes: int = 0
    arrivals: NDArray[np.int64] = field(init=False)
    hist: NDArray[np.int32] = field(init=False)
    levels: NDArray[np.int64] = field(init=False)
    cpu_s: NDArray[np.float64] = field(init=False)
    db_busy_s: NDArray[np.float64] = field(init=False)
    slot_busy_s: NDArray[np.float64] = field(init=False)
    in_flight: NDArray[np.float64] = field(init=False)
    replicas: NDArray[np.float64] = field(init=False)
    ready: NDArray[np.float64] = field(init=False)
    queue_depth: NDArray[np.float64] = field(init=False)
    totals: Totals = field(init=False)
    class_hist: NDArray[np.int64] = field(init=False)  # per class: latency histogram
    class_levels: NDArray[np.int64] = field(init=False)  # per class: cache outcomes

    def __post_init__(self) -> None:
        m = self.minutes = math.ceil(self.horizon_s / 60.0)
        k = self.n_classes
        self.arrivals = np.zeros((m, k), np.int64)
        self.hist = np.zeros((m, BUCKETS), np.int32)
        self.levels = np.zeros((m, 4), np.int64)
        self.class_hist = np.zeros((k, BUCKETS), np.int64)
        self.class_levels = np.zeros((k, 4), np.int64)
        self.cpu_s = np.zeros(m)
        self.db_busy_s = np.zeros(m)
        self.slot_busy_s = np.zeros(m)
        self.in_flight = np.zeros(m)
        self.replicas = np.zeros(m)
        self.ready = np.zeros(m)
        self.queue_depth = np.zeros((m, len(self.queue_names)))
        self.totals = Totals(np.zeros(k, np.int64), np.zeros(k), np.zeros(k, np.int64), np.zeros(k))
        self._departures = np.empty(0)  # of requests still in the system at the batch start

    def record(
        self,
        t0: float,
        t1: float,
        time: NDArray[np.float64],
        cls: NDArray[np.int8],
        served: Served,
        cpu: NDArray[np.float64],
        db_busy: NDArray[np.float64],
    ) -> None:
        """Account one batch: the arrivals in ``[t0, t1)`` and what happened to them."""
        self._sample_in_system(t0, t1, time, served.end)
        n = time.shape[0]
        if n == 0:
            return
        last = self.minutes - 1
        minute = np.minimum((time // 60.0).astype(np.int64), last)
        m0, m1 = int(minute[0]), int(minute[-1]) + 1
        rel = minute - m0
        span = m1 - m0
        k = self.n_classes
        cls64 = cls.astype(np.int64)
        self.arrivals[m0:m1] += np.bincount(rel * k + cls64, minlength=span * k).reshape(span, k)
        sojourn = served.end - time
        b = bucket_of(sojourn * 1000.0)
        self.hist[m0:m1] += (
            np.bincount(rel * BUCKETS + b, minlength=span * BUCKETS)
            .reshape(span, BUCKETS)
            .astype(np.int32)
        )
        lv = served.level.astype(np.int64)
        self.levels[m0:m1] += np.bincount(rel * 4 + lv, minlength=span * 4).reshape(span, 4)
        self.class_hist += np.bincount(cls64 * BUCKETS + b, minlength=k * BUCKETS).reshape(
            k, BUCKETS
        )
        self.class_levels += np.bincount(cls64 * 4 + lv, minlength=k * 4).reshape(k, 4)
        self.cpu_s[m0:m1] += np.bincount(rel, weights=cpu, minlength=span)
        self.db_busy_s[m0:m1] += np.bincount(rel, weights=db_busy, minlength=span)
        self.slot_busy_s[m0:m1] += np.bincount(
            rel, weights=served.end - served.start, minlength=span
        )
        wait = served.start - time
        tot = self.totals
        tot.count += np.bincount(cls64, minlength=k)
        tot.wait_sum += np.bincount(cls64, weights=wait, minlength=k)
        tot.waited += np.bincount(cls64, weights=(wait > 0), minlength=k).astype(np.int64)
        tot.sojourn_sum += np.bincount(cls64, weights=sojourn, minlength=k)

    def record_idle(self, t0: float, t1: float) -> None:
        """Account ``[t0, t1)`` without arrivals (requests may still be in the system)."""
        self._sample_in_system(t0, t1, np.empty(0), np.empty(0))

    def _sample_in_system(
        self, t0: float, t1: float, time: NDArray[np.float64], end: NDArray[np.float64]
    ) -> None:
        grid = np.arange(math.ceil(t0 / SAMPLE_S) * SAMPLE_S, t1, SAMPLE_S)
        deps = np.sort(np.concatenate([self._departures, end]))
        if grid.shape[0]:
            inside = (
                self._departures.shape[0]
                + np.searchsorted(time, grid, side="right")
                - np.searchsorted(deps, grid, side="right")
            )
            self.totals.in_system_sum += float(inside.sum())
            self.totals.in_system_samples += int(grid.shape[0])
            minute = np.minimum((grid // 60.0).astype(np.int64), self.minutes - 1)
            self.in_flight += np.bincount(minute, weights=inside, minlength=self.minutes) * (
                SAMPLE_S / 60.0
            )
        self._departures = deps[np.searchsorted(deps, t1, side="right") :]

    def sample(self, minute: int, replicas: int, ready: int, depths: list[int]) -> None:
        """End-of-minute state: replicas and queue depths."""
        if 0 <= minute < self.minutes:
            self.replicas[minute] = replicas
            self.ready[minute] = ready
            self.queue_depth[minute] = depths

    # -------------------------------------------------------------- readouts

    def latency_ms(self) -> dict[str, float]:
        p50, p95, p99 = percentiles(self.hist.sum(axis=0, dtype=np.int64), (0.50, 0.95, 0.99))
        return {"p50": p50, "p95": p95, "p99": p99}

    def by_class(self, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
        """Per request class with requests: p50/p95/p99 (ms) and the cache hit ratio of its reads."""
        out: dict[str, dict[str, float]] = {}
        for i, name in enumerate(names):
            if not self.class_hist[i].any():
                continue
            p50, p95, p99 = percentiles(self.class_hist[i], (0.50, 0.95, 0.99))
            lv = self.class_levels[i]
            hits, lookups = int(lv[L1_HIT] + lv[L2_HIT]), int(lv[L1_HIT] + lv[L2_HIT] + lv[MISS])
            out[name] = {"p50": p50, "p95": p95, "p99": p99, "hit_ratio": _ratio(hits, lookups)}
        return out

    def p95_per_minute(self) -> NDArray[np.float64]:
        return per_row_percentile(self.hist.astype(np.int64), 0.95)

    def hit_ratios(self) -> dict[str, float]:
        lv = self.levels.sum(axis=0)
        l1, l2, miss = int(lv[L1_HIT]), int(lv[L2_HIT]), int(lv[MISS])
        lookups = l1 + l2 + miss
        return {
            "hit_ratio": _ratio(l1 + l2, lookups),
            "l1_hit_ratio": _ratio(l1, lookups),
            "l2_hit_ratio": _ratio(l2, l2 + miss),
        }


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0
