"""Timetable: items due at a time, put there with their secret and claimed once each."""

from __future__ import annotations

import asyncio
import time

from storage.base import Listing
from tests.store_kinds import LIMIT, every_store, record

store = every_store()


async def test_due_items_are_claimed_once_in_time_order_and_never_early(store):
    now = time.time()
    for n in range(30):  # items go on the timetable only with their secret
        rec = record()
        due = Listing("T1:U1", rec.secret_id, b"s", now + 200, f"item-{n:02d}", now + n)
        await store.save(rec, due)
    assert await store.claim_due(now - 1) == []
    assert await store.claim_due(now + 2.5, limit=2) == ["item-00", "item-01"]
    claims = await asyncio.gather(*(store.claim_due(now + 100, limit=5) for _ in range(20)))
    claimed = [item for claim in claims for item in claim]
    assert sorted(claimed) == [f"item-{n:02d}" for n in range(2, 30)]
    assert await store.claim_due(now + 1000) == []


async def test_a_secret_saved_with_its_listing_is_on_the_list_and_the_timetable(store):
    rec = record(expires_in=60)
    listing = Listing(
        owner="T1:U1",
        entry_id=rec.secret_id,
        entry=b"summary",
        keep_until=rec.expires_at + 100,
        due_item=f"{rec.secret_id} T1:U1",
        due=rec.expires_at,
    )
    await store.save(rec, listing)
    assert (await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)) is not None
    assert await store.entries("T1:U1", time.time()) == {rec.secret_id: b"summary"}
    assert await store.claim_due(rec.expires_at - 1) == []
    assert await store.claim_due(rec.expires_at) == [f"{rec.secret_id} T1:U1"]


async def test_redis_saves_a_listed_secret_without_asking_for_scripts_and_after_a_flush(
    fresh_redis,
):
    """The listed save is one script by EVALSHA, never a pipeline holding a script (redis-py
    sends SCRIPT EXISTS before each of those), and a Redis that lost its scripts (a restart,
    SCRIPT FLUSH) gets them again, nothing lost."""
    from storage.redis_store import RedisStore

    fresh_redis.command("CONFIG", "RESETSTAT")
    store = RedisStore.from_url(fresh_redis.url)
    try:
        saved = []
        for flush_first in (False, True, False):
            if flush_first:
                fresh_redis.command("SCRIPT", "FLUSH")
            rec = record(expires_in=60)
            owner = f"T1:U{len(saved)}"
            listing = Listing(owner, rec.secret_id, b"s", rec.expires_at + 1, "due", rec.expires_at)
            await store.save(rec, listing)
            saved.append((rec, owner))
        for rec, owner in saved:
            assert await store.entries(owner, time.time()) == {rec.secret_id: b"s"}
            assert (await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)) is not None
        stats = fresh_redis.command("INFO", "commandstats")
        assert "script|exists" not in stats
    finally:
        await store.close()


async def test_an_item_added_alone_is_claimed_once_and_moves_with_a_later_save(store):
    now = time.time()
    rec = record(expires_in=600)
    item = f"{rec.secret_id} T1:U1"
    await store.add_due(item, now + 10)  # a request waiting for its answer
    await store.add_due(item, now + 5)  # added again: moved, not doubled
    assert await store.claim_due(now + 1) == []
    assert await store.claim_due(now + 6) == [item]
    assert await store.claim_due(now + 20) == []
    await store.add_due(item, now + 10)
    # The answer saved with its listing moves the same item to its own expiry.
    await store.save(rec, Listing("T1:U1", rec.secret_id, b"s", now + 900, item, now + 600))
    assert await store.claim_due(now + 20) == []
    assert await store.claim_due(now + 601) == [item]
