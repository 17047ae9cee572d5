"""OwnerLists: each creator's list of their secrets."""

from __future__ import annotations

import time

from tests.store_kinds import every_store

store = every_store()


async def test_an_owners_entries_are_kept_replaced_and_dropped_after_their_time(store):
    now = time.time()
    await store.keep_entry("T1:U1", "a", b'{"o":"waiting"}', now + 60, now)
    await store.keep_entry("T1:U1", "b", b"\x00|bin|\xff", now + 1.2, now)
    await store.keep_entry("T1:U2", "c", b"other owner", now + 60, now)
    assert await store.entries("T1:U1", now) == {"a": b'{"o":"waiting"}', "b": b"\x00|bin|\xff"}
    await store.keep_entry("T1:U1", "a", b'{"o":"revealed"}', now + 120, now)
    assert (await store.entries("T1:U1", now))["a"] == b'{"o":"revealed"}'
    assert await store.entries("T1:U1", now + 30) == {"a": b'{"o":"revealed"}'}
    assert await store.entries("T1:U2", now) == {"c": b"other owner"}
    assert await store.entries("T9:U9", now) == {}
