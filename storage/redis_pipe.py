"""One shared Redis connection per process for the reveal paths, commands written together.

redis-py takes a connection from its pool, writes one command, waits for its reply and puts
the connection back, for every command. On the reveal paths that bookkeeping was most of a
request's cost (docs/benchmarks.md, "where the time goes"). Here every concurrent caller
writes into the same connection: the commands issued in one turn of the event loop leave in
one write, and the replies, which Redis sends in the order it got the commands, are matched
to their callers by that order. hiredis parses them.

It speaks to one standalone Redis (redis:// and rediss:// with their user, password and
database, or unix://); Sentinel and Cluster keep redis-py, which follows failovers and slots.

A caller that gives up (the store's step deadline) leaves its place in the queue: its reply
is read and dropped when it comes, so the replies after it still reach their own callers. A
connection on which the oldest command has waited past `STALLED_AFTER` is dropped, failing
everything still waiting on it; the next command opens a new one.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

STALLED_AFTER = 3.0  # seconds; twice the store's step bound, so only a dead peer trips it
CONNECT_TIMEOUT = 1.0

Arg = bytes | str | int | float


@dataclass(frozen=True)
class Address:
    """Where and how to connect, read from the store's URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket
    tls: bool = False
    verify: bool = True
    username: str | None = None
    password: str | None = None
    db: int = 0

    @classmethod
    def from_url(cls, url: str) -> Address:
        parts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]  # unannotated
        tls = url.startswith("rediss://")
        return cls(
            host=parts.get("host", "127.0.0.1"),
            port=int(parts.get("port", 6379)),
            path=parts.get("path"),
            tls=tls,
            verify=parts.get("ssl_cert_reqs", "required") not in ("none", ssl.CERT_NONE),
            username=parts.get("username"),
            password=parts.get("password"),
            db=int(parts.get("db", 0)),
        )


def _pack(args: Sequence[Arg]) -> bytes:
    """One command in Redis's wire format (hiredis's stub types its argument as a 1-tuple)."""
    packed: bytes = hiredis.pack_command(cast(Any, tuple(args)))
    return packed


class _Replies(asyncio.Protocol):
    """The connection: each reply goes to the oldest caller still waiting."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        # (the caller's future, when its command was written)
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio's classes, only behave like them.
        self.transport = cast(asyncio.Transport, transport)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.transport is None or self.lost:
            raise RedisConnectionError("redis connection lost")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self._outgoing:  # the first command of this turn: write them all at its end
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(packed)
        self.waiting.append((future, time.monotonic()))
        return future

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self.transport is not None and not self.lost:
            self.transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future, _ = self.waiting.popleft()
            if future.done():  # its caller gave up: the reply is dropped, the order kept
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(RedisConnectionError("redis connection lost"))

    def stalled(self, now: float) -> bool:
        return bool(self.waiting) and now - self.waiting[0][1] > STALLED_AFTER

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class PipelinedRedis:
    """Commands to one standalone Redis over one connection per event loop."""

    def __init__(self, address: Address) -> None:
        self._address = address
        self._replies: _Replies | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None

    @classmethod
    def from_url(cls, url: str) -> PipelinedRedis:
        return cls(Address.from_url(url))

    async def execute(self, *args: Arg) -> Any:
        """One command's reply; a Redis error reply is raised as redis-py's ResponseError,
        a lost connection as its ConnectionError."""
        replies = self._replies
        if replies is None or replies.lost or self._loop is not asyncio.get_running_loop():
            replies = await self._connect()
        elif replies.stalled(time.monotonic()):
            replies.close()
            replies.connection_lost(None)
            replies = await self._connect()
        return await replies.send(_pack(args))

    async def evalsha(
        self, sha: str, script: bytes, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> Any:
        """A script by its digest, loaded first when this Redis does not know it (a restart,
        SCRIPT FLUSH)."""
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", script)
        return await self.execute("EVALSHA", sha, len(keys), *keys, *args)

    async def _connect(self) -> _Replies:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests, a forked worker): nothing carries over
            self._loop, self._replies, self._connecting = loop, None, asyncio.Lock()
        assert self._connecting is not None
        async with self._connecting:
            if self._replies is not None and not self._replies.lost:
                return self._replies  # another caller connected while this one waited
            self._replies = None
            self._replies = await asyncio.wait_for(self._open(loop), CONNECT_TIMEOUT)
            return self._replies

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Replies:
        address = self._address
        if address.path:
            _, replies = await loop.create_unix_connection(_Replies, address.path)
        else:
            context = None
            if address.tls:
                context = ssl.create_default_context()
                if not address.verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
            _, replies = await loop.create_connection(
                _Replies, address.host, address.port, ssl=context
            )
        try:
            if address.password is not None:
                credentials = (
                    (address.username, address.password)
                    if address.username
                    else (address.password,)
                )
                await replies.send(_pack(("AUTH", *credentials)))
            if address.db:
                await replies.send(_pack(("SELECT", address.db)))
        except BaseException:
            replies.close()
            raise
        return replies

    async def close(self) -> None:
        if self._replies is not None:
            self._replies.close()
            self._replies = None
