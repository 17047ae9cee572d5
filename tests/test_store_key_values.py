"""KeyValues: small values under a key (installations, OAuth states, settings, requests)."""

from __future__ import annotations

import asyncio
import time

from tests.store_kinds import every_store

store = every_store()


async def test_small_values_put_get_take_delete_and_expire(store):
    await store.put("install:T1", b"\x00value\xff")
    assert await store.get("install:T1", time.time()) == b"\x00value\xff"
    await store.put("install:T1", b"newer")
    assert await store.get("install:T1", time.time()) == b"newer"
    await store.delete("install:T1")
    assert await store.get("install:T1", time.time()) is None
    await store.put("state:abc", b"1", time.time() + 0.8)  # room for a loaded machine
    assert await store.get("state:abc", time.time()) == b"1"
    # Both clocks must pass the expiry: Redis drops the key by its own (`KeyValues.get`).
    await asyncio.sleep(0.95)
    assert await store.take("state:abc", time.time()) is None


async def test_a_value_put_past_its_expiry_is_never_returned(store):
    now = time.time()
    await store.put("state:late", b"1", now - 1)
    assert await store.get("state:late", now) is None
    assert await store.take("state:late", now) is None


async def test_take_gives_a_value_to_exactly_one_of_many(store):
    await store.put("state:once", b"1", time.time() + 60)
    taken = await asyncio.gather(*(store.take("state:once", time.time()) for _ in range(50)))
    assert taken.count(b"1") == 1 and taken.count(None) == 49


async def test_delete_if_deletes_only_the_value_it_was_given(store):
    """A compare-and-delete: a mark replaced by another holder is left alone, and of many
    racing deletes of one value exactly one deletes it."""
    await store.put("mark:1", b"first", time.time() + 60)
    await store.put("mark:1", b"second", time.time() + 60)  # another holder's, since
    assert await store.delete_if("mark:1", b"first") is False
    assert await store.get("mark:1", time.time()) == b"second"
    assert await store.delete_if("mark:absent", b"first") is False
    deleted = await asyncio.gather(*(store.delete_if("mark:1", b"second") for _ in range(20)))
    assert deleted.count(True) == 1
    assert await store.get("mark:1", time.time()) is None
