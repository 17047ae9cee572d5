"""A time bound for every store step, kept by one watcher instead of a timer per step.

`asyncio.timeout` starts and stops an event-loop timer for each step, a measurable share
of a reveal's own work (docs/benchmarks.md). Here a step only notes its deadline in a dict, and
one callback, rescheduled while steps are in flight, cancels the steps that overran. The
bound is coarser by up to one tick, so deadlines are set one tick early: a step is cut off
between `limit - TICK` and `limit` seconds, never later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

TICK = 0.1  # seconds between checks while steps are in flight


class Deadlines:
    def __init__(self, limit: float) -> None:
        self._limit = max(limit - TICK, TICK)
        self._steps: dict[asyncio.Task[object], float] = {}  # task -> monotonic deadline
        self._overran: set[asyncio.Task[object]] = set()
        self._watcher: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the watcher's

    async def run(self, step: Callable[[], Awaitable[T]]) -> T:
        """`step()`, or TimeoutError once it has run for the limit. Like asyncio.timeout,
        a cancellation from elsewhere (shutdown, an outer timeout) passes through as is."""
        task = asyncio.current_task()
        if task is None or task in self._steps:  # no task, or a step inside a step
            async with asyncio.timeout(self._limit):
                return await step()
        cancelling = task.cancelling()
        self._steps[task] = time.monotonic() + self._limit
        loop = task.get_loop()
        if self._watcher is None or self._loop is not loop:  # a closed loop's never runs
            self._loop = loop
            self._watcher = loop.call_later(TICK, self._check)
        try:
            return await step()
        except asyncio.CancelledError:
            if task in self._overran and task.uncancel() <= cancelling:
                raise TimeoutError("store step overran its deadline") from None
            raise
        finally:
            del self._steps[task]
            self._overran.discard(task)

    def _check(self) -> None:
        now = time.monotonic()
        for task, deadline in self._steps.items():
            if deadline <= now and task not in self._overran:
                self._overran.add(task)
                task.cancel()  # lands at the step's await: the task is suspended inside it
        loop = self._loop
        assert loop is not None  # set by the step that scheduled this check
        self._watcher = loop.call_later(TICK, self._check) if self._steps else None
