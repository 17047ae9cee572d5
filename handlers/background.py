"""Work that runs after the ack, with failures reported in one place.

Bolt answers Slack once `ack()` has been called, but if a listener raises within a few
milliseconds after acking, bolt overwrites the ack with its error response and makes Slack
wait out the 3-second timeout. So listeners ack, hand the rest to `AfterAck.run`, and return:
the ack always goes out at once, the work's failures still reach ONE reporter, and shutdown
can wait for work in flight (a secret being created is never cut off half-way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

Reporter = Callable[[Exception, dict], Awaitable[object]]
ClickWork = Callable[[dict, dict, Any], Coroutine[Any, Any, Any]]  # (body, action, client)


class AfterAck:
    def __init__(self, report: Reporter) -> None:
        self._report = report
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, Any], body: dict) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception as error:
                await self._report(error, body)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)  # held, so the task cannot be garbage-collected mid-flight
        task.add_done_callback(self._tasks.discard)

    def on_click(self, work: ClickWork) -> Callable[..., Awaitable[None]]:
        """A listener for a button or select: acks at once, then runs
        `work(body, action, client)` here. Bolt fills the listener's arguments by name."""

        async def clicked(ack: Callable[[], Awaitable[Any]], body: dict, action: dict, client):
            await ack()
            self.run(work(body, action, client), body)

        return clicked

    @property
    def idle(self) -> bool:
        return not self._tasks

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
