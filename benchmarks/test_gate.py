"""The regression gate's suite: instruction counts, recorded as pytest-benchmark stats.

Each test counts the instructions of one workload (:mod:`workloads`) under
callgrind (:mod:`instructions`) and hands the count to pytest-benchmark
through a timer that reads instructions instead of seconds (1 ns in the table
is one instruction).  So the saved runs, ``--benchmark-compare`` and
``--benchmark-compare-fail`` work on the counts unchanged, and the gate's
verdict is pytest-benchmark's own.  The counts run two at a time (they do not
depend on load), started when the first test of the module needs one.

Run through ``make bench-check`` (against the committed baseline) or
``make bench-save``; ``.venv/bin/pytest benchmarks/test_gate.py`` just prints the counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from instructions import GROUP, GateError, count_instructions, programs
from workloads import REDIS_BACKED, REDIS_URL_ENV, WORKLOADS

from perfcore.testing import require_service


class InstructionClock:
    """A pytest-benchmark timer whose reading is the instructions counted so far, in 1e-9 units."""

    __name__ = "callgrind_instructions"

    def __init__(self) -> None:
        self.total = 0

    def __call__(self) -> float:
        return self.total * 1e-9


CLOCK = InstructionClock()


class Counts:
    """Counts for the selected workloads, computed in the background as soon as asked for."""

    def __init__(self, names: list[str], redis_url: str | None) -> None:
        env = {REDIS_URL_ENV: redis_url} if redis_url else {}
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._futures: dict[str, Future[int]] = {
            name: self._pool.submit(count_instructions, name, env) for name in names
        }
        self.counted: dict[str, int] = {}

    def measure(self, name: str) -> None:
        """The benchmarked call: advance the clock by the instructions of ``name``."""
        self.counted[name] = self._futures[name].result()
        CLOCK.total += self.counted[name]

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown()


@pytest.fixture(scope="module")
def counts(request: pytest.FixtureRequest) -> Iterator[Counts]:
    try:
        programs()
    except GateError as exc:
        require_service(str(exc))  # fails under CI=true, skips elsewhere
    names = [
        str(item.callspec.params["workload"])
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is request.module
    ]
    url = request.getfixturevalue("redis_cache_url") if REDIS_BACKED & set(names) else None
    running = Counts(names, url)
    yield running
    running.close()


@pytest.mark.benchmark(group=GROUP, timer=CLOCK)
@pytest.mark.parametrize(
    "workload",
    [
        pytest.param(name, marks=[pytest.mark.redis] if name in REDIS_BACKED else [])
        for name in WORKLOADS
    ],
)
def test_instructions(benchmark: Any, counts: Counts, workload: str) -> None:
    try:
        benchmark.pedantic(counts.measure, args=(workload,), rounds=1, iterations=1)
    except GateError as exc:
        pytest.fail(str(exc), pytrace=False)
    benchmark.extra_info["instructions"] = counts.counted[workload]
    assert benchmark.stats.stats.median == pytest.approx(counts.counted[workload] * 1e-9)
