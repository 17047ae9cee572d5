"""Asking someone for a secret: the request's life and who may answer it, which the core owns.

A request waits in the store like a secret does, expires like one, and is answered at most
once, whatever the races: `answer_once` takes it in one atomic step, so of two answers only
one ever gets it. Only the person asked may answer: the edge names them when the request is
opened and names whoever tries to answer, both as opaque identity strings it builds the way
it builds a secret's creator; the core compares them and never parses them. What a request
says (who asked, what for, where to answer) is the edge's to write and read, kept here as
opaque bytes: the core knows no Slack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from bot import crypto
from bot.errors import SecretError
from storage.interfaces import KeyValues

# A stored request: this marker, the answerer's identity, a newline, then the edge's bytes.
# Identities hold no newline (an edge's "scope:user"). A value without the marker was
# stored before the core knew who may answer: nobody can be shown to be its answerer, so it
# reads as closed rather than open to anyone.
_FORMAT = b"request/1\n"


class RequestClosed(SecretError):
    """Answered, expired, withdrawn, or never made: one error, as for a gone secret."""


class NotAsked(SecretError):
    """Only the person a request was sent to may answer it; nothing was used up."""


class OpenedRequest(NamedTuple):
    request_id: str  # random like a secret's id: guessing one answers nothing
    expires_at: float


@dataclass(frozen=True, slots=True)
class WaitingRequest:
    """A request that can still be answered, as `look` found it."""

    content: bytes  # the edge's own record of what was asked
    answerer: str  # the identity of the one person who may answer

    def answerable_by(self, identity: str) -> bool:
        """Whether `identity` (built by the edge as it built the answerer's) may answer."""
        return bool(identity) and identity == self.answerer

    def __repr__(self) -> str:
        return "WaitingRequest(…)"


def _key(request_id: str) -> str:
    return f"request:{request_id}"  # the key requests were always stored under


def _pack(answerer: str, content: bytes) -> bytes:
    if not answerer or "\n" in answerer:
        raise ValueError("a request's answerer is one non-empty line")
    return _FORMAT + answerer.encode() + b"\n" + content


def _unpack(raw: bytes | None) -> WaitingRequest:
    if raw is None or not raw.startswith(_FORMAT):
        raise RequestClosed()
    answerer, newline, content = raw[len(_FORMAT) :].partition(b"\n")
    if not newline or not answerer:
        raise RequestClosed()
    return WaitingRequest(content, answerer.decode(errors="replace"))


class SecretRequests:
    def __init__(self, store: KeyValues, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    async def open(self, content: bytes, *, answerer: str, ttl: float) -> OpenedRequest:
        """Store a new request that only `answerer` may answer, and that expires by itself
        after `ttl` seconds."""
        request_id = crypto.new_secret_id()
        expires_at = self._clock() + ttl
        await self._store.put(_key(request_id), _pack(answerer, content), expires_at)
        return OpenedRequest(request_id, expires_at)

    async def withdraw(self, request_id: str) -> None:
        """Forget a request nobody could be told of (its message did not go out)."""
        await self._store.delete(_key(request_id))

    async def look(self, request_id: str) -> WaitingRequest:
        """The request while it waits; RequestClosed once answered, expired or never made.
        Looking uses nothing up."""
        return _unpack(await self._store.get(_key(request_id), self._clock()))

    async def answer_once(self, request_id: str, by: str) -> bytes:
        """Take the request for its one answer by `by`, and return what it says.

        NotAsked, leaving it waiting, when `by` is not the person asked: they are checked
        before anything is taken, so a wrong click cannot use up someone else's request.
        RequestClosed to every caller after the first, ever."""
        if not (await self.look(request_id)).answerable_by(by):
            raise NotAsked()
        # Checked on what look read, then taken whole: a request is never rewritten, only
        # deleted, so what is taken is what was checked, or nothing.
        return _unpack(await self._store.take(_key(request_id), self._clock())).content
