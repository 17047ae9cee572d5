"""SecretRecords: the contract every store keeps for secrets (save, reveal, burn, status,
purge), run unchanged against Redis, SQLite, a Redis Cluster and Sentinel (`store`). Each
other job has its own file: test_store_counters.py, test_store_key_values.py,
test_store_owner_lists.py, test_store_timetable.py."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from bot.service import MAX_PASSPHRASE_ATTEMPTS
from storage.base import BurnOutcome, RevealOutcome
from tests.store_kinds import LIMIT, LV, VF, every_store, record

store = every_store()


async def test_saved_secret_has_status_and_reveals_once(store):
    rec = record()
    await store.save(rec)
    status = await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)
    assert status.has_passphrase and status.attempts_left == MAX_PASSPHRASE_ATTEMPTS
    assert abs(status.expires_at - rec.expires_at) < 0.01
    first = await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert first.outcome is RevealOutcome.REVEALED
    assert first.record.ciphertext == rec.ciphertext and first.record.nonce == rec.nonce
    assert first.record.creator == "T1:U1" and first.record.metadata == rec.metadata
    second = await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert second.outcome is RevealOutcome.GONE
    assert await store.status(rec.secret_id, time.time(), max_attempts=LIMIT) is None


async def test_wrong_link_verifier_counts_nothing_and_burns_nothing(store):
    rec = record()
    await store.save(rec)
    for _ in range(MAX_PASSPHRASE_ATTEMPTS * 3):
        result = await store.reveal(rec.secret_id, b"x" * 32, VF, time.time(), max_attempts=LIMIT)
        assert result.outcome is RevealOutcome.BROKEN_LINK
    status = await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)
    assert status.attempts_left == MAX_PASSPHRASE_ATTEMPTS
    assert (await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)).outcome is (
        RevealOutcome.REVEALED
    )


async def test_wrong_verifier_counts_down_and_destroys_at_the_limit(store):
    rec = record()
    await store.save(rec)
    for left in range(MAX_PASSPHRASE_ATTEMPTS - 1, 0, -1):
        result = await store.reveal(rec.secret_id, LV, b"w" * 32, time.time(), max_attempts=LIMIT)
        assert (result.outcome, result.attempts_left) == (RevealOutcome.WRONG_PASSPHRASE, left)
        assert (
            await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)
        ).attempts_left == left
    last = await store.reveal(rec.secret_id, LV, b"w" * 32, time.time(), max_attempts=LIMIT)
    assert last.outcome is RevealOutcome.GONE
    assert (
        await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    ).outcome is RevealOutcome.GONE


async def test_right_passphrase_after_wrong_ones_still_reveals(store):
    rec = record()
    await store.save(rec)
    for _ in range(MAX_PASSPHRASE_ATTEMPTS - 1):
        await store.reveal(rec.secret_id, LV, b"w" * 32, time.time(), max_attempts=LIMIT)
    result = await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert result.outcome is RevealOutcome.REVEALED


async def test_only_the_creator_can_burn(store):
    rec = record()
    await store.save(rec)
    assert await store.burn(rec.secret_id, "T1:U2", time.time()) is BurnOutcome.NOT_CREATOR
    assert await store.status(rec.secret_id, time.time(), max_attempts=LIMIT) is not None
    assert await store.burn(rec.secret_id, "T1:U1", time.time()) is BurnOutcome.BURNED
    assert await store.burn(rec.secret_id, "T1:U1", time.time()) is BurnOutcome.GONE
    assert (
        await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    ).outcome is RevealOutcome.GONE


async def test_expired_secret_is_never_returned(store):
    rec = record(expires_in=0.8)  # room for a loaded machine between save and status
    await store.save(rec)
    assert await store.status(rec.secret_id, time.time(), max_attempts=LIMIT) is not None
    await asyncio.sleep(0.95)
    assert await store.status(rec.secret_id, time.time(), max_attempts=LIMIT) is None
    assert (
        await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    ).outcome is RevealOutcome.GONE
    assert await store.burn(rec.secret_id, "T1:U1", time.time()) is BurnOutcome.GONE


async def test_purge_removes_expired_and_keeps_live(store):
    old, live = record(expires_in=0.2), record()
    await store.save(old)
    await store.save(live)
    await asyncio.sleep(0.3)
    await store.purge_expired(time.time())
    assert await store.status(live.secret_id, time.time(), max_attempts=LIMIT) is not None
    assert await store.status(old.secret_id, time.time(), max_attempts=LIMIT) is None


async def test_exactly_one_of_100_concurrent_reveals_wins(store):
    for _ in range(5):
        rec = record()
        await store.save(rec)
        results = await asyncio.gather(
            *(
                store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
                for _ in range(100)
            )
        )
        outcomes = [r.outcome for r in results]
        assert outcomes.count(RevealOutcome.REVEALED) == 1
        assert outcomes.count(RevealOutcome.GONE) == 99


async def test_unknown_id_is_gone_everywhere(store):
    assert await store.status("nope", time.time(), max_attempts=LIMIT) is None
    assert (
        await store.reveal("nope", LV, VF, time.time(), max_attempts=LIMIT)
    ).outcome is RevealOutcome.GONE
    assert await store.burn("nope", "T1:U1", time.time()) is BurnOutcome.GONE


async def test_ping_answers(store):
    await store.ping()


@pytest.mark.parametrize("size", [0, 1, 10 * 1024])
async def test_binary_fields_survive_byte_for_byte(store, size):
    rec = record(ciphertext=bytes(range(256)) * (size // 256) + b"\x00\xff" * 3)
    await store.save(rec)
    result = await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert result.record.ciphertext == rec.ciphertext


async def test_300_concurrent_saves_and_reveals_all_succeed(store):
    """More concurrent commands than one process keeps connections for: they wait, not fail."""
    records = [record() for _ in range(300)]
    await asyncio.gather(*(store.save(r) for r in records))
    results = await asyncio.gather(
        *(store.reveal(r.secret_id, LV, VF, time.time(), max_attempts=LIMIT) for r in records)
    )
    assert [r.outcome for r in results] == [RevealOutcome.REVEALED] * 300


async def test_a_bound_record_is_refused_to_a_link_reveal_and_opens_for_its_holder(store):
    rec = record(bound=True)
    await store.save(rec)
    for verifier in (VF, b"w" * 32):  # the right proofs, and a wrong passphrase: neither counts
        refused = await store.reveal(rec.secret_id, LV, verifier, time.time(), max_attempts=LIMIT)
        assert refused.outcome is RevealOutcome.BROKEN_LINK and refused.record is None
    assert (await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)).attempts_left == (
        MAX_PASSPHRASE_ATTEMPTS
    )
    wrong = await store.reveal(
        rec.secret_id, LV, b"w" * 32, time.time(), max_attempts=LIMIT, bound_allowed=True
    )
    assert (wrong.outcome, wrong.attempts_left) == (RevealOutcome.WRONG_PASSPHRASE, 4)
    opened = await store.reveal(
        rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT, bound_allowed=True
    )
    assert opened.outcome is RevealOutcome.REVEALED and opened.record.bound
    assert opened.record.ciphertext == rec.ciphertext
    gone = await store.reveal(
        rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT, bound_allowed=True
    )
    assert gone.outcome is RevealOutcome.GONE


async def test_an_unbound_record_opens_on_either_path(store):
    for bound_allowed in (False, True):
        rec = record()
        await store.save(rec)
        result = await store.reveal(
            rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT, bound_allowed=bound_allowed
        )
        assert result.outcome is RevealOutcome.REVEALED and not result.record.bound


async def test_a_sqlite_file_from_before_bound_records_is_upgraded_in_place(tmp_path):
    """Its rows stay readable (as not bound, which they were stored as), and new bound
    records in it are refused to links."""
    import sqlite3

    from storage.sqlite_store import SqliteStore

    path = str(tmp_path / "old.sqlite3")
    old = record()
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE secrets (id TEXT PRIMARY KEY, version INTEGER NOT NULL, nonce BLOB NOT "
        "NULL, ciphertext BLOB NOT NULL, link_verifier BLOB NOT NULL, verifier BLOB NOT NULL, "
        "has_passphrase INTEGER NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, "
        "creator TEXT NOT NULL, metadata TEXT NOT NULL, failed INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute(
        "INSERT INTO secrets VALUES (?,?,?,?,?,?,?,?,?,?,?,0)",
        (old.secret_id, 1, old.nonce, old.ciphertext, LV, VF, 1, old.created_at,
         old.expires_at, old.creator, old.metadata),
    )  # fmt: skip
    conn.commit()
    conn.close()
    stores = [SqliteStore(path), SqliteStore(path)]  # two processes opening it at once
    try:
        await asyncio.gather(*(store.open() for store in stores))
        bound = record(bound=True)
        await stores[0].save(bound)
        assert (
            await stores[1].reveal(bound.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
        ).outcome is (RevealOutcome.BROKEN_LINK)
        result = await stores[1].reveal(old.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
        assert result.outcome is RevealOutcome.REVEALED and not result.record.bound
        assert result.record.ciphertext == old.ciphertext
    finally:
        for store in stores:
            await store.close()


def test_a_redis_record_packed_before_the_bound_flag_reads_as_it_was_stored():
    """The flag lives in the byte that held only "has a passphrase": 0 and 1 still mean
    what they meant, and the rest of the layout did not move."""
    from storage import redis_record

    for has_passphrase in (False, True):
        rec = record(has_passphrase=has_passphrase)
        packed = redis_record.pack(rec)
        assert packed[redis_record.FLAGS_OFFSET] == int(has_passphrase)  # as before the flag
        unpacked, failed = redis_record.unpack(rec.secret_id, packed)
        times = {"created_at": rec.created_at, "expires_at": rec.expires_at}  # kept to the ms
        assert (unpacked._replace(**times), failed) == (rec, 0)
    bound = record(bound=True, has_passphrase=False)
    packed = redis_record.pack(bound)
    assert packed[redis_record.FLAGS_OFFSET] == redis_record.BOUND
    assert redis_record.unpack(bound.secret_id, packed)[0].bound
    assert redis_record.unpack_head(packed)[1] is False  # no passphrase, bound or not


async def test_the_attempt_limit_is_the_callers_not_the_stores(store):
    rec = record()
    await store.save(rec)
    assert (await store.status(rec.secret_id, time.time(), max_attempts=2)).attempts_left == 2
    first = await store.reveal(rec.secret_id, LV, b"w" * 32, time.time(), max_attempts=2)
    assert (first.outcome, first.attempts_left) == (RevealOutcome.WRONG_PASSPHRASE, 1)
    assert (await store.status(rec.secret_id, time.time(), max_attempts=9)).attempts_left == 8
    last = await store.reveal(rec.secret_id, LV, b"w" * 32, time.time(), max_attempts=2)
    assert last.outcome is RevealOutcome.GONE
    assert await store.status(rec.secret_id, time.time(), max_attempts=2) is None


def test_the_reveal_page_states_the_cores_attempt_limit():
    from bot import pages

    assert f"After {MAX_PASSPHRASE_ATTEMPTS} wrong tries" in pages._PASSPHRASE_HINT


async def test_a_record_past_its_expiry_at_the_callers_now_is_gone_everywhere(store):
    """The caller's clock decides, on every store: no waiting for the store's own expiry,
    and the record is still there for a caller whose clock says it is not yet time. The
    expiry is a whole second, which Redis's ms keep exactly, so the edge is the same."""
    rec = record(expires_at=float(int(time.time()) + 600))
    await store.save(rec)
    later = rec.expires_at + 1
    assert await store.status(rec.secret_id, later, max_attempts=LIMIT) is None
    assert await store.status(rec.secret_id, rec.expires_at, max_attempts=LIMIT) is None
    for bound_allowed in (False, True):
        result = await store.reveal(
            rec.secret_id, LV, VF, later, max_attempts=LIMIT, bound_allowed=bound_allowed
        )
        assert result.outcome is RevealOutcome.GONE and result.record is None
    wrong = await store.reveal(rec.secret_id, LV, b"w" * 32, later, max_attempts=LIMIT)
    assert wrong.outcome is RevealOutcome.GONE  # nothing counted on an expired record
    assert (
        await store.reveal(rec.secret_id, b"x" * 32, VF, later, max_attempts=LIMIT)
    ).outcome is (RevealOutcome.GONE)
    assert await store.burn(rec.secret_id, "T1:U1", later) is BurnOutcome.GONE
    assert await store.burn(rec.secret_id, "T1:U2", later) is BurnOutcome.GONE
    before = rec.expires_at - 1
    status = await store.status(rec.secret_id, before, max_attempts=LIMIT)
    assert status is not None and status.attempts_left == LIMIT
    assert await store.burn(rec.secret_id, "T1:U1", before) is BurnOutcome.BURNED


async def test_a_record_is_revealed_by_a_caller_whose_now_is_before_its_expiry(store):
    rec = record(expires_in=600)
    await store.save(rec)
    result = await store.reveal(rec.secret_id, LV, VF, rec.expires_at - 0.01, max_attempts=LIMIT)
    assert result.outcome is RevealOutcome.REVEALED


async def test_a_10_mib_record_is_kept_and_handed_out_whole(store):
    """A file written in the browser, at the default MAX_FILE_SIZE, sealed."""
    big = os.urandom(10 * 1024 * 1024 + 1024 + 19)
    rec = record(ciphertext=big)
    await store.save(rec)
    status = await store.status(rec.secret_id, time.time(), max_attempts=LIMIT)
    assert status is not None
    result = await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert result.outcome is RevealOutcome.REVEALED and result.record.ciphertext == big
    again = await store.reveal(rec.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert again.outcome is RevealOutcome.GONE


@pytest.mark.parametrize("listed", [False, True])
async def test_a_save_never_replaces_a_kept_record_even_when_20_race(store, listed):
    """Of 20 saves of one id at once, exactly one is kept; the others are refused
    (SecretExists) and changed nothing, not even the owner's list. An expired record of the
    same id is no obstacle."""
    from storage.base import Listing, SecretExists

    secret_id = os.urandom(8).hex()
    now = time.time()
    saves = [record(secret_id=secret_id, ciphertext=bytes([n]) * 40) for n in range(20)]

    def listing(n: int) -> Listing | None:
        if not listed:
            return None
        return Listing("T1:UR", secret_id, f"entry-{n}".encode(), now + 200, f"due-{n}", now + 100)

    results = await asyncio.gather(
        *(store.save(rec, listing(n)) for n, rec in enumerate(saves)), return_exceptions=True
    )
    kept = [n for n, result in enumerate(results) if result is None]
    assert len(kept) == 1
    assert all(isinstance(result, SecretExists) for result in results if result is not None)
    found = await store.reveal(secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert found.record.ciphertext == bytes([kept[0]]) * 40
    if listed:
        assert await store.entries("T1:UR", time.time()) == {secret_id: f"entry-{kept[0]}".encode()}
    expired = record(expires_in=-1.0)
    if hasattr(store, "_redis"):  # Redis drops it by itself; SQLite keeps the row until purged
        return
    await store.save(expired)
    again = record(secret_id=expired.secret_id)
    await store.save(again)  # replaces the expired row
    found = await store.reveal(again.secret_id, LV, VF, time.time(), max_attempts=LIMIT)
    assert found.record.ciphertext == again.ciphertext
