"""The store's step bound: overrunning steps end in TimeoutError, other cancellations pass."""

from __future__ import annotations

import asyncio
import time

import pytest

from storage.deadlines import TICK, Deadlines


async def _hang() -> None:
    await asyncio.sleep(5)  # a watcher that never cuts it off fails the test, not hangs it


async def _answer() -> str:
    await asyncio.sleep(0)
    return "answer"


def test_a_step_that_overruns_is_cut_off_within_the_limit() -> None:
    deadlines = Deadlines(0.5)

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await deadlines.run(_hang)
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    assert 0.5 - TICK - 0.05 <= elapsed <= 0.5 + 0.3  # slack for a busy machine's loop


def test_many_steps_at_once_each_get_their_own_bound() -> None:
    deadlines = Deadlines(0.4)

    async def main() -> list:
        quick = [deadlines.run(_answer) for _ in range(50)]
        slow = [deadlines.run(_hang) for _ in range(50)]
        return await asyncio.gather(*quick, *slow, return_exceptions=True)

    results = asyncio.run(main())
    assert results[:50] == ["answer"] * 50
    assert all(isinstance(result, TimeoutError) for result in results[50:])


def test_a_cancellation_from_elsewhere_passes_through() -> None:
    deadlines = Deadlines(5.0)

    async def main() -> None:
        step = asyncio.ensure_future(deadlines.run(_hang))
        await asyncio.sleep(0.05)
        step.cancel()
        with pytest.raises(asyncio.CancelledError):
            await step

    asyncio.run(main())


def test_an_outer_timeout_that_ends_first_is_the_one_raised() -> None:
    deadlines = Deadlines(5.0)

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await deadlines.run(_hang)
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


def test_the_task_goes_on_normally_after_an_overrun() -> None:
    deadlines = Deadlines(0.3)

    async def main() -> str:
        with pytest.raises(TimeoutError):
            await deadlines.run(_hang)
        await asyncio.sleep(0.3)  # no cancellation is left pending for the task
        return await deadlines.run(_answer)

    assert asyncio.run(main()) == "answer"


def test_the_bound_holds_on_every_event_loop_it_is_used_from() -> None:
    deadlines = Deadlines(0.3)
    for _ in range(3):  # each asyncio.run closes its loop; the next one must be watched
        with pytest.raises(TimeoutError):
            asyncio.run(deadlines.run(_hang))
