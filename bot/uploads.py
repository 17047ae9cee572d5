"""What every upload route shares: the bounded body reader and the gate in front of it.

Three routes take in a file (`POST /c/{token}`, `POST /r/{id}`, `POST /api/v1/secrets`),
and each holds up to one file in memory while it reads. Memory is per process, so one gate
per process bounds them all together: a few uploads at once, whichever route they came by,
and the rest are told to try again (503 `busy`). Every route also names a holder (the
person behind an API token, a compose link's creator, an outside request's requester), and
one holder runs one upload at a time, so that one person cannot take every place at once.

The reader gives each chunk and the whole body a deadline, and after a short grace a lowest
average rate: a browser sends its body without pauses, and a sender that stalls or trickles
would otherwise hold its buffer, its connection and its place for as long as it liked. A
sender that hangs up or stalls gets one calm INFO line, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
# Each upload holds up to one file (twice over for a moment, while its ciphertext is cut
# out of the buffer) while it runs: this many at once bound the memory all of them take.
UPLOADS_AT_ONCE = 4
# One holder (the person an upload is for, whichever route) may run this many at once.
UPLOADS_PER_HOLDER = 1
CHUNK_SECONDS = 15.0  # the longest wait for the next piece of the body
UPLOAD_SECONDS = 300.0  # the whole body: a file at the limit over a slow uplink
# The slowest average a body may arrive at once RATE_GRACE_SECONDS have passed: 128 kbit/s,
# well under what a poor mobile uplink sends, so a real phone passes, while a sender that
# trickles a piece just inside each chunk deadline is cut off within seconds of the grace
# instead of holding its place until UPLOAD_SECONDS.
MIN_BYTES_PER_SECOND = 16 * 1024
RATE_GRACE_SECONDS = 15.0

BUSY_MESSAGE = "The server is taking in other files right now. Try again in a moment."
# A second upload (another tab) to a link one upload holds: that one may give it back.
IN_USE_MESSAGE = "Another upload to this link is running; try again in a moment."


class Refused(Exception):
    """An upload refused before the core saw it: its status, code and sentence."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message


def too_large(request: web.Request, limit: int) -> bool:
    """True when the declared length already says the body is past `limit`."""
    return request.content_length is not None and request.content_length > limit


def refuse_too_large(request: web.Request, limit: int) -> None:
    """Refused 413, unread, when the declared length is past `limit`."""
    if too_large(request, limit):
        raise Refused(413, "too_large", "The file is larger than this app allows.")


class UploadSlot:
    """One place at the gate, held while an upload is read and stored; leaving gives it
    back, however the upload ended."""

    def __init__(self, gate: UploadGate, holder: str) -> None:
        self._gate = gate
        self._holder = holder

    def __enter__(self) -> UploadSlot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._gate._leave(self._holder)


class UploadGate:
    """At most `at_once` uploads in the process, and `per_holder` of them for one holder.

    `enter` decides without awaiting, so two uploads arriving together can never both take
    the last place."""

    def __init__(self, at_once: int, per_holder: int) -> None:
        self._at_once = at_once
        self._per_holder = per_holder
        self._running = 0
        self._by_holder: dict[str, int] = {}

    @property
    def running(self) -> int:
        return self._running

    def enter(self, holder: str = "") -> UploadSlot:
        """A place for one upload (use it in a `with`), or Refused 503 `busy`."""
        if self._running >= self._at_once:
            raise Refused(503, "busy", BUSY_MESSAGE)
        if holder and self._by_holder.get(holder, 0) >= self._per_holder:
            raise Refused(503, "busy", BUSY_MESSAGE)
        self._running += 1
        if holder:
            self._by_holder[holder] = self._by_holder.get(holder, 0) + 1
        return UploadSlot(self, holder)

    def _leave(self, holder: str) -> None:
        self._running -= 1
        if holder:
            left = self._by_holder.pop(holder) - 1
            if left:
                self._by_holder[holder] = left


def new_gate() -> UploadGate:
    """The process's one gate, built by the composition root (bot/app.py)."""
    return UploadGate(UPLOADS_AT_ONCE, UPLOADS_PER_HOLDER)


GATE_KEY: web.AppKey[UploadGate] = web.AppKey("upload_gate", UploadGate)

Upload = TypeVar("Upload")
Stored = TypeVar("Stored")


async def receive(
    gate: UploadGate,
    holder: str,
    read: Callable[[], Awaitable[Upload]],
    store: Callable[[Upload], Awaitable[Stored]],
    give_back: Callable[[], Awaitable[None]],
) -> Stored:
    """One upload to a link already taken (a compose link, an upload link): read and stored
    in a place at the gate for `holder`. When no place is free, or the read fails (cut off,
    stalled, malformed, refused), nothing was stored and `give_back` makes the link work
    again; once `store` runs, the link is spent whatever it answers."""
    try:
        slot = gate.enter(holder)
    except Refused:
        await give_back()
        raise
    with slot:
        try:
            upload = await read()
        except BaseException:
            await give_back()
            raise
        return await store(upload)


async def read_body(request: web.Request, limit: int) -> bytearray:
    """The body, a chunk at a time, each within CHUNK_SECONDS and all within UPLOAD_SECONDS,
    and (after RATE_GRACE_SECONDS) at MIN_BYTES_PER_SECOND on average at least; too_large,
    unread when the declared length says so, or as soon as it grows past `limit`. A sender
    that hangs up or stalls gets one calm INFO line, never a traceback."""
    refuse_too_large(request, limit)
    # One buffer, sized at once when the length is declared (the caller holds a place at the
    # gate, and the link when there is one): growing it would copy it each time it outgrew
    # its room.
    buffer = bytearray(request.content_length or 0)
    filled = 0
    content = request.content
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(UPLOAD_SECONDS):
            while True:
                async with asyncio.timeout(CHUNK_SECONDS):
                    chunk = await content.read(READ_CHUNK)
                if not chunk:
                    break
                if filled + len(chunk) > limit:
                    raise Refused(413, "too_large", "The file is larger than this app allows.")
                if filled + len(chunk) <= len(buffer):
                    buffer[filled : filled + len(chunk)] = chunk
                else:
                    buffer[filled:] = chunk
                filled += len(chunk)
                elapsed = loop.time() - started
                if elapsed > RATE_GRACE_SECONDS and filled < MIN_BYTES_PER_SECOND * elapsed:
                    raise TimeoutError
    except TimeoutError:
        log.info("upload refused: its body did not arrive in time")
        raise Refused(408, "too_slow", "The upload stalled. Try again.") from None
    except (ConnectionResetError, aiohttp.ClientPayloadError):
        log.info("upload cut off: the sender hung up before the end of its body")
        raise Refused(400, "cut_off", "The upload was cut off. Try again.") from None
    del buffer[filled:]
    return buffer
