"""Asking someone for a secret: the request's life, which the core owns.

A request waits in the store like a secret does, expires like one, and is answered at most
once, whatever the races: `answer_once` takes it in one atomic step, so of two answers only
one ever gets it. What a request holds (who asked whom, what for, where to answer) is the
edge's to write and read, kept here as opaque bytes: the core knows no Slack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from bot import crypto
from storage.interfaces import KeyValues


class OpenedRequest(NamedTuple):
    request_id: str  # random like a secret's id: guessing one answers nothing
    expires_at: float


def _key(request_id: str) -> str:
    return f"request:{request_id}"  # the key requests were always stored under


class SecretRequests:
    def __init__(self, store: KeyValues, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    async def open(self, content: bytes, ttl: float) -> OpenedRequest:
        """Store a new request that expires by itself after `ttl` seconds."""
        request_id = crypto.new_secret_id()
        expires_at = self._clock() + ttl
        await self._store.put(_key(request_id), content, expires_at)
        return OpenedRequest(request_id, expires_at)

    async def withdraw(self, request_id: str) -> None:
        """Forget a request nobody could be told of (its DM did not go out)."""
        await self._store.delete(_key(request_id))

    async def look(self, request_id: str) -> bytes | None:
        """The request while it waits; None once answered, expired or never made."""
        return await self._store.get(_key(request_id), self._clock())

    async def answer_once(self, request_id: str) -> bytes | None:
        """Take the request for its one answer; None to every other caller, ever."""
        return await self._store.take(_key(request_id), self._clock())
