"""The load plan: a scenario's offered load, per request class and load-test second.

``perfcore loadtest --scenario`` and the Locust users share one plan, written
as JSON next to the run's outputs. Load-test second ``k`` plays the scenario's
window ``[start + k*K, start + (k+1)*K)`` (``K`` = ``time_scale``) at the
scenario's mean rate in that interval times ``rate_scale``: time-scale changes
how long the profile takes, rate-scale how hard it hits.

The Locust side is **open loop**: users start requests at Poisson times
whose total rate is the plan's, whatever the responses take, because the
model is open loop too (arrivals do not wait for earlier answers). Offered
load is then the same number on both sides, and an overloaded target shows up
as growing latency -- as in the model -- rather than as a throttled client.
Each user starts ``user_rate_per_s`` requests per second on average, so the
plan asks for ``ceil(rate / user_rate_per_s)`` users; a user whose answer is
late starts the next request at once and catches up.

    >>> from simulation.scenario import Scenario
    >>> sc = Scenario.model_validate({"workload": {"events": {"count": 0}, "streams": [
    ...     {"request_class": "event_detail", "rate_per_s": 10.0, "keys": 5}]}})
    >>> plan = build_plan(sc, Window(0.0, 30.0), rate_scale=0.5, time_scale=3.0)
    >>> plan["duration_s"], plan["rates"]["event_detail"][:2], plan["users"][:2]
    (10, [5.0, 5.0], [3, 3])
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfcore.errors import BadInput
from perfcore.platform import PLATFORM
from simulation.scenario import REQUEST_CLASSES, Scenario
from simulation.workload import EventLayout, Workload

_SPAN = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_span(text: str, field: str) -> float:
    """Seconds in ``3600``, ``90s``, ``17h``, ``17h30m``; BadInput naming ``field`` otherwise."""
    value = text.strip().lower()
    match = _SPAN.fullmatch(value)
    if not value or match is None or not any(match.groups()):
        raise BadInput(f"{field}: expected seconds or e.g. 17h30m, got {text!r}")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


@dataclass(frozen=True)
class Window:
    """A span of scenario time, in seconds."""

    start_s: float
    end_s: float

    @classmethod
    def parse(cls, text: str | None, scenario: Scenario) -> Window:
        """``START-END`` (``17h-18h``, ``0-600``); None: the whole horizon."""
        if text is None:
            return cls(0.0, scenario.horizon_s)
        start, sep, end = text.partition("-")
        if not sep:
            raise BadInput(f"--window: expected START-END, e.g. 17h-18h, got {text!r}")
        window = cls(parse_span(start, "--window"), parse_span(end, "--window"))
        if not 0 <= window.start_s < window.end_s <= scenario.horizon_s:
            raise BadInput(
                f"--window: {text!r} must satisfy 0 <= START < END <= horizon"
                f" ({scenario.horizon_s:.0f} s)"
            )
        return window

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def build_plan(
    scenario: Scenario, window: Window, *, rate_scale: float = 1.0, time_scale: float = 1.0
) -> dict[str, Any]:
    """The plan (JSON-ready) for ``window`` of ``scenario``; see the module docstring."""
    if rate_scale <= 0 or time_scale <= 0:
        raise BadInput("--rate-scale/--time-scale: must be > 0")
    duration = max(1, math.ceil(window.length_s / time_scale - 1e-9))
    edges = window.start_s + np.arange(duration + 1, dtype=np.float64) * time_scale
    edges[-1] = min(edges[-1], scenario.horizon_s)
    layout = EventLayout.draw(scenario, np.random.default_rng(scenario.seed))
    counts = Workload(scenario, layout, np.random.default_rng(scenario.seed)).expected_counts(edges)
    rates = {
        name: [round(float(c) * rate_scale / time_scale, 6) for c in counts[name]]
        for name in REQUEST_CLASSES
    }
    total = [sum(rates[name][k] for name in REQUEST_CLASSES) for k in range(duration)]
    per_user = scenario.loadtest.user_rate_per_s
    lt = scenario.loadtest
    return {
        "window_s": [window.start_s, window.end_s],
        "rate_scale": rate_scale,
        "time_scale": time_scale,
        "duration_s": duration,
        "user_rate_per_s": per_user,
        "rates": rates,
        "users": [max(1, math.ceil(r / per_user)) for r in total],
        "paths": {
            n: lt.paths.get(n, rc.endpoint.path) for n, rc in PLATFORM.request_classes.items()
        },
        "id_pools": {name: pool.model_dump() for name, pool in lt.id_pools.items()},
    }


def offered_requests(plan: dict[str, Any]) -> float:
    """The plan's expected number of requests over its whole run."""
    return float(sum(sum(r) for r in plan["rates"].values()))
