"""The core's side of asking for a secret (bot/requests.py): a request waits, expires, is
answered once, and only by the person asked, on every store."""

from __future__ import annotations

import asyncio

import pytest

from bot.requests import NotAsked, RequestClosed, SecretRequests
from storage.sqlite_store import SqliteStore
from tests.support.clock import FakeClock

ASKED = "T1:U2"


async def answers_of(requests: SecretRequests, request_id: str, by: str) -> bytes | None:
    try:
        return await requests.answer_once(request_id, by=by)
    except RequestClosed:
        return None


async def test_a_request_waits_then_is_answered_exactly_once_of_many(store):
    requests = SecretRequests(store, FakeClock())
    opened = await requests.open(b"who asked whom, for what", answerer=ASKED, ttl=600)
    assert len(opened.request_id) == 22
    found = await requests.look(opened.request_id)
    assert found.content == b"who asked whom, for what" and found.answerer == ASKED
    answers = await asyncio.gather(
        *(answers_of(requests, opened.request_id, ASKED) for _ in range(50))
    )
    assert answers.count(b"who asked whom, for what") == 1 and answers.count(None) == 49
    with pytest.raises(RequestClosed):
        await requests.look(opened.request_id)


async def test_only_the_person_asked_may_answer_and_a_wrong_answer_uses_nothing_up(store):
    requests = SecretRequests(store, FakeClock())
    opened = await requests.open(b"for U2 only", answerer=ASKED, ttl=600)
    found = await requests.look(opened.request_id)
    # The same user id in another workspace is somebody else; so is nobody.
    for stranger in ("T9:U2", "T1:U3", ""):
        assert not found.answerable_by(stranger)
        with pytest.raises(NotAsked):
            await requests.answer_once(opened.request_id, by=stranger)
    assert found.answerable_by(ASKED)
    assert await requests.answer_once(opened.request_id, by=ASKED) == b"for U2 only"


async def test_a_request_stored_without_its_answerer_is_closed_to_everyone(store):
    """Requests kept before the core knew who may answer them name no answerer: they read
    as closed rather than open to anyone."""
    await store.put("request:old", b'["T1","U1","U2","for what"]', FakeClock()() + 600)
    requests = SecretRequests(store, FakeClock())
    with pytest.raises(RequestClosed):
        await requests.look("old")
    with pytest.raises(RequestClosed):
        await requests.answer_once("old", by="T1:U2")


async def test_a_withdrawn_request_cannot_be_answered(store):
    requests = SecretRequests(store, FakeClock())
    withdrawn = await requests.open(b"never sent", answerer=ASKED, ttl=600)
    await requests.withdraw(withdrawn.request_id)
    with pytest.raises(RequestClosed):
        await requests.answer_once(withdrawn.request_id, by=ASKED)


async def test_an_expired_request_cannot_be_answered(tmp_path):
    """On the caller's clock (SQLite); Redis expires the key by its own clock, which the
    key-value contract tests with real time."""
    clock = FakeClock()
    requests = SecretRequests(SqliteStore(str(tmp_path / "requests.db")), clock)
    opened = await requests.open(b"soon gone", answerer=ASKED, ttl=60)
    assert opened.expires_at == clock() + 60
    clock.advance(59)
    assert (await requests.look(opened.request_id)).content == b"soon gone"
    clock.advance(2)
    with pytest.raises(RequestClosed):
        await requests.look(opened.request_id)
    with pytest.raises(RequestClosed):
        await requests.answer_once(opened.request_id, by=ASKED)
