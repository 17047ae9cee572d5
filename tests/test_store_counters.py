"""Counters: the rate counters every store keeps, shared by every process."""

from __future__ import annotations

import asyncio

from tests.store_kinds import every_store

store = every_store()


async def test_hits_are_counted_per_key_and_window(store):
    now = 1_000_000.0
    assert [await store.count_hit("k", 60, now) for _ in range(3)] == [1, 2, 3]
    assert await store.count_hit("other", 60, now) == 1
    assert await store.count_hit("k", 60, now + 60) == 1  # the next window starts afresh


async def test_concurrent_hits_are_all_counted(store):
    counts = await asyncio.gather(*(store.count_hit("busy", 60, 5_000.0) for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))
