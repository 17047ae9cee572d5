"""The core's side of asking for a secret (bot/requests.py): a request waits, expires, and
is answered once, on every store."""

from __future__ import annotations

import asyncio

from bot.requests import SecretRequests
from storage.sqlite_store import SqliteStore
from tests.support.clock import FakeClock


async def test_a_request_waits_then_is_answered_exactly_once_of_many(store):
    requests = SecretRequests(store, FakeClock())
    opened = await requests.open(b"who asked whom, for what", ttl=600)
    assert len(opened.request_id) == 22
    assert await requests.look(opened.request_id) == b"who asked whom, for what"
    answers = await asyncio.gather(*(requests.answer_once(opened.request_id) for _ in range(50)))
    assert answers.count(b"who asked whom, for what") == 1 and answers.count(None) == 49
    assert await requests.look(opened.request_id) is None


async def test_a_withdrawn_request_cannot_be_answered(store):
    requests = SecretRequests(store, FakeClock())
    withdrawn = await requests.open(b"never sent", ttl=600)
    await requests.withdraw(withdrawn.request_id)
    assert await requests.answer_once(withdrawn.request_id) is None


async def test_an_expired_request_cannot_be_answered(tmp_path):
    """On the caller's clock (SQLite); Redis expires the key by its own clock, which the
    key-value contract tests with real time."""
    clock = FakeClock()
    requests = SecretRequests(SqliteStore(str(tmp_path / "requests.db")), clock)
    opened = await requests.open(b"soon gone", ttl=60)
    assert opened.expires_at == clock() + 60
    clock.advance(59)
    assert await requests.look(opened.request_id) == b"soon gone"
    clock.advance(2)
    assert await requests.look(opened.request_id) is None
    assert await requests.answer_once(opened.request_id) is None
