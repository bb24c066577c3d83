"""Open-loop Locust users and load shape that play a scenario's load plan (``--plan``).

:mod:`simulation.loadplan` turns a scenario window into per-second rates per
request class; here the shape sets the number of users the plan asks for each
second, and every user starts requests at Poisson times (exponential gaps,
measured from when the request *should* have started, so a slow answer does
not lower the offered rate) with the request class drawn from that second's
mix. The sum over users is a Poisson stream at the plan's total rate -- the
open-loop arrivals the model assumes. Run through
``perfcore loadtest --scenario S.yaml``; the locustfile's host guard, id
pools and path templates apply (this module imports them).
"""

from __future__ import annotations

import bisect
import csv
import random
import time
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import LoadTestShape, events, task
from locust.env import Environment
from locustfile import PLAN, PlatformClient  # type: ignore[import-not-found]

from perfcore.platform import PLATFORM

_CLOCK: dict[str, float] = {}  # test start (monotonic), per process
REQUEST_LOG = "requests.csv"  # every request's start, next to the plan: the exact trace
_SENT: list[tuple[float, str, str]] = []


@events.test_start.add_listener
def _started(environment: Environment, **_: Any) -> None:
    _CLOCK["start"] = time.monotonic()


@events.request.add_listener
def _sent(request_type: str, url: str = "", start_time: float = 0.0, **_: Any) -> None:
    # When each request really left (a starved load generator sends in clumps; the
    # per-second counts alone cannot show that), with its path: the ids are the keys.
    _SENT.append((start_time, request_type, urlsplit(url).path))


@events.quitting.add_listener
def _write_log(environment: Environment, **_: Any) -> None:
    plan_path = (
        getattr(environment.parsed_options, "plan", "") if environment.parsed_options else ""
    )
    if not plan_path or not _SENT:
        return
    with (Path(plan_path).parent / REQUEST_LOG).open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "method", "path"])
        writer.writerows((f"{t:.6f}", m, path) for t, m, path in sorted(_SENT))


def _second() -> int:
    """The plan second now, clamped to the plan."""
    elapsed = time.monotonic() - _CLOCK.get("start", time.monotonic())
    return min(max(int(elapsed), 0), max(int(PLAN.get("duration_s", 1)) - 1, 0))


def _mix(second: int) -> tuple[list[str], list[float], float]:
    """Class names, their cumulative rates and the total rate of a plan second."""
    rates: dict[str, list[float]] = PLAN["rates"]
    names = [n for n in PLATFORM.class_names if rates[n][second] > 0]
    cumulative = list(accumulate(rates[n][second] for n in names))
    return names, cumulative, cumulative[-1] if cumulative else 0.0


class ScenarioUser(PlatformClient):
    """One of ``users[k]`` users sharing second ``k``'s offered rate."""

    def on_start(self) -> None:
        super().on_start()
        self.due = time.monotonic()

    def wait_time(self) -> float:
        second = _second()
        users = int(PLAN["users"][second])
        _, _, total = _mix(second)
        if total <= 0:
            self.due = time.monotonic() + 1.0
        else:
            self.due += random.expovariate(total / users)
        return max(0.0, self.due - time.monotonic())

    @task
    def one_request(self) -> None:
        names, cumulative, total = _mix(_second())
        if total <= 0:
            return
        name = names[bisect.bisect_left(cumulative, random.random() * total)]
        params = self.params()
        if name == "register":
            self.register(params)
        elif name == "check_in":
            self.check_in(params)
        else:
            self.send(name, PLATFORM.request_classes[name], params)


class PlanShape(LoadTestShape):
    """As many users as the plan asks for each second, spawned at once; stop at its end."""

    def tick(self) -> tuple[int, float] | None:
        second = int(self.get_run_time())
        users: list[int] = PLAN.get("users", [])
        if second >= len(users):
            return None
        return int(users[second]), float(max(users))
