"""A pool of identical FCFS servers (API slots, database connections) as a heap of free times.

For a first-come-first-served multi-server queue the whole state that matters
to the next customer is *when each server becomes free*: a customer arriving at
``t`` starts at ``max(t, earliest free time)`` on that server and frees it at
``start + service``. Processing customers in arrival order with a min-heap is
therefore an exact simulation of G/G/c FCFS -- no event per customer needed.

Resizing follows Kubernetes semantics: new servers are free from the moment
they are added; removed servers are the ones that free up first (idle ones),
so work in flight always completes.
"""

from __future__ import annotations

import heapq


class ServerPool:
    """``size`` servers; ``heap`` holds each server's next free time (the hot loop reads it)."""

    def __init__(self, size: int, now: float = 0.0) -> None:
        self.heap: list[float] = [now] * size

    @property
    def size(self) -> int:
        return len(self.heap)

    def serve(self, arrival: float, service: float) -> tuple[float, float]:
        """Queue one customer; returns its (start, end)."""
        free = self.heap[0]
        start = free if free > arrival else arrival
        end = start + service
        heapq.heapreplace(self.heap, end)
        return start, end

    def resize(self, size: int, now: float) -> None:
        """Grow with servers free at ``now``, or drop the earliest-free servers."""
        heap = self.heap
        while len(heap) < size:
            heapq.heappush(heap, now)
        while len(heap) > max(size, 0):
            heapq.heappop(heap)

    def busy(self, now: float) -> int:
        """Servers still working at ``now``."""
        return sum(1 for free in self.heap if free > now)
