"""Single-flight: concurrent calls for one key in one process share one execution.

The first caller starts the work as a task; later callers await the same task.
Each caller waits through :func:`asyncio.shield`, so a caller that is
cancelled (a client hung up) neither cancels the work nor fails the others.
Exceptions reach every waiter unchanged (the very same exception object).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Task[Any]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def in_flight(self, key: Hashable) -> bool:
        return key in self._calls

    async def do(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` unless a run for ``key`` is in flight; either way return its result."""
        task = self._calls.get(key)
        if task is None:
            task = asyncio.ensure_future(work())
            self._calls[key] = task
            task.add_done_callback(lambda done: self._finish(key, done))
        result: T = await asyncio.shield(task)
        return result

    def _finish(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            # Mark the exception retrieved: if every waiter was cancelled, nobody
            # else will, and asyncio would log "exception was never retrieved".
            task.exception()
