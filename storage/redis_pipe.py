"""One shared Redis connection per process for the reveal paths, commands written together.

redis-py takes a connection from its pool, writes one command, waits for its reply and puts
the connection back, for every command. On the reveal paths that bookkeeping was most of a
request's cost (docs/benchmarks.md, "where the time goes"). Here every concurrent caller
writes into the same connection: the commands issued in one turn of the event loop leave in
one write, and the replies, which Redis sends in the order it got the commands, are matched
to their callers by that order. hiredis parses them.

It speaks to one standalone Redis (redis:// and rediss:// with their user, password,
database and certificate options, or unix://). A URL with any other option, Sentinel and
Cluster keep redis-py, which knows them all (`PipelinedRedis.for_url` says None).

Matching by order is only safe while both sides agree on it, so anything that could shift it
ends the connection instead and fails every caller still waiting: a reply nobody is waiting
for, a reply the parser cannot read, a connection on which the oldest command has waited
past `STALLED_AFTER`. The next command opens a new connection. A caller that gives up (the
store's step deadline) keeps its place: its command is not written if it has not left yet,
and its reply is read and dropped if it has.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import hiredis
from redis.connection import parse_url
from redis.exceptions import AuthenticationError, BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

STALLED_AFTER = 3.0  # seconds; twice the store's step bound, so only a dead peer trips it
CONNECT_TIMEOUT = 1.0

Arg = bytes | str | int | float

# The options of a redis:// or rediss:// URL this connection applies. A URL with any other
# (protocol=3, timeouts, ssl_ciphers, ...) is left to redis-py, which applies them all.
_HANDLED = {
    "host", "port", "path", "username", "password", "db", "connection_class",
    "ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_certs", "ssl_ca_path", "ssl_ca_data",
    "ssl_certfile", "ssl_keyfile",
}  # fmt: skip

# Error replies that mean "this Redis cannot serve now", raised as redis-py raises them (its
# ConnectionError family), so the store reports them as an outage, not as a failed step.
_OUTAGE_REPLIES: tuple[tuple[str, type[RedisConnectionError]], ...] = (
    ("LOADING", BusyLoadingError),  # replaying its files after a restart
    ("NOAUTH", AuthenticationError),
    ("WRONGPASS", AuthenticationError),
    ("ERR max number of clients reached", RedisConnectionError),
    ("DENIED", RedisConnectionError),  # protected mode
)


def _failure(reply: ResponseError) -> Exception:
    text = str(reply)
    for prefix, kind in _OUTAGE_REPLIES:
        if text.startswith(prefix):
            return kind(text)
    return reply


# The values redis-py accepts for ssl_cert_reqs; it refuses any other, and so does a URL here
# (Address.from_url leaves such a URL to redis-py, which says why).
_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def _unasked(reply: object) -> RedisConnectionError:
    """A reply that came before any command: Redis refusing the connection as it accepts
    it (too many clients, protected mode), said as it said it; anything else, a stray."""
    if isinstance(reply, ResponseError):
        failure = _failure(reply)
        if isinstance(failure, RedisConnectionError):
            return failure
        return RedisConnectionError(f"redis refused the connection: {reply}")
    return RedisConnectionError("redis sent a reply nobody was waiting for")


def _yes(value: object) -> bool:
    return str(value).lower() not in ("false", "no", "0", "off")


@dataclass(frozen=True)
class Address:
    """Where and how to connect, read from the store's URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    tls_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str) -> Address | None:
        """None for a URL with an option this connection does not apply."""
        parts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]  # unannotated
        if set(parts) - _HANDLED or parts.get("ssl_cert_reqs", "required") not in _CERT_REQS:
            return None
        if parts.get("ssl_keyfile") and not parts.get("ssl_certfile"):
            return None  # a key without its certificate: redis-py refuses it, and says so
        return cls(
            host=parts.get("host", "127.0.0.1"),
            port=int(parts.get("port", 6379)),
            path=parts.get("path"),
            tls=url.startswith("rediss://"),
            username=parts.get("username"),
            password=parts.get("password"),
            db=int(parts.get("db", 0)),
            tls_options={k: v for k, v in parts.items() if k.startswith("ssl_")},
        )

    def tls_context(self) -> ssl.SSLContext | None:
        """What redis-py builds for the same URL: the system's CAs plus any the URL names,
        the host name checked unless it says otherwise, a client certificate when it names
        one."""
        if not self.tls:
            return None
        options = self.tls_options
        context = ssl.create_default_context()
        verify_mode = _CERT_REQS[options.get("ssl_cert_reqs", "required")]
        # No certificate check means no host name check either, as in redis-py.
        checks_name = verify_mode != ssl.CERT_NONE and _yes(options.get("ssl_check_hostname", True))
        context.check_hostname = checks_name
        context.verify_mode = verify_mode
        if options.get("ssl_certfile"):
            context.load_cert_chain(options["ssl_certfile"], options.get("ssl_keyfile"))
        if any(options.get(name) for name in ("ssl_ca_certs", "ssl_ca_path", "ssl_ca_data")):
            context.load_verify_locations(
                cafile=options.get("ssl_ca_certs"),
                capath=options.get("ssl_ca_path"),
                cadata=options.get("ssl_ca_data"),
            )
        return context


class Script:
    """A Lua script as EVALSHA names it: its text and that text's SHA-1, worked out once."""

    __slots__ = ("body", "sha")

    def __init__(self, text: str) -> None:
        self.body = text.encode()
        self.sha = hashlib.sha1(self.body).hexdigest()  # noqa: S324 - Redis's own naming


def _pack(args: Sequence[Arg]) -> bytes:
    """One command in Redis's wire format (hiredis's stub types its argument as a 1-tuple)."""
    packed: bytes = hiredis.pack_command(cast(Any, tuple(args)))
    return packed


class _Replies(asyncio.Protocol):
    """The connection: each reply goes to the oldest caller still waiting."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        # (the caller's future, when its command was written), in the order written
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._outgoing: list[tuple[bytes, asyncio.Future[Any]]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio's classes, only behave like them.
        self.transport = cast(asyncio.Transport, transport)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.transport is None or self.lost:
            raise RedisConnectionError("redis connection lost")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._outgoing:  # the first command of this turn: write them all at its end
            loop.call_soon(self._flush)
        self._outgoing.append((packed, future))
        return future

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self.transport is None or self.lost:
            return  # connection_lost has failed their callers already
        now = time.monotonic()
        # A caller that gave up before its command left: the command is not sent at all.
        sent = [(packed, future) for packed, future in outgoing if not future.done()]
        self.waiting.extend((future, now) for _, future in sent)
        if sent:
            self.transport.write(b"".join(packed for packed, _ in sent))

    def data_received(self, data: bytes) -> None:
        try:
            self.reader.feed(data)
            while (reply := self.reader.gets()) is not False:
                if not self.waiting:  # a reply nobody asked for: the order can't be trusted
                    raise _unasked(reply)
                future, _ = self.waiting.popleft()
                if future.done():  # its caller gave up: the reply is dropped, the order kept
                    continue
                if isinstance(reply, ResponseError):
                    future.set_exception(_failure(reply))
                else:
                    future.set_result(reply)
        except Exception as exc:  # unreadable or unexpected: nothing after it can be matched
            self.abort(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.abort(exc)

    def abort(self, exc: Exception | None = None) -> None:
        """End the connection now, unwritten commands dropped, every waiting caller failed."""
        self.lost = True
        if self.transport is not None:
            self.transport.abort()
        # Each caller gets its own exception: one shared instance would carry the traceback
        # of whichever caller raised it last.
        kind = type(exc) if isinstance(exc, RedisConnectionError) else RedisConnectionError
        message = str(exc) if isinstance(exc, RedisConnectionError) else "redis connection lost"
        pending = [future for future, _ in self.waiting]
        pending += [future for _, future in self._outgoing]
        self.waiting.clear()
        self._outgoing = []
        for future in pending:
            if not future.done():
                future.set_exception(kind(message))

    def stalled(self, now: float) -> bool:
        return bool(self.waiting) and now - self.waiting[0][1] > STALLED_AFTER


# Every instance, so that a forked child forgets its parent's connections (below).
_INSTANCES: weakref.WeakSet[PipelinedRedis] = weakref.WeakSet()


class PipelinedRedis:
    """Commands to one standalone Redis over one connection per event loop and process."""

    def __init__(self, address: Address) -> None:
        self._address = address
        self._replies: _Replies | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None
        self._closes = 0  # how many times close() ran: a connect it overtook is not kept
        _INSTANCES.add(self)

    @classmethod
    def for_url(cls, url: str) -> PipelinedRedis | None:
        """The connection for a standalone Redis URL; None for one it leaves to redis-py."""
        address = Address.from_url(url)
        return cls(address) if address is not None else None

    async def execute(self, *args: Arg) -> Any:
        """One command's reply. An error reply is raised as redis-py raises it: an outage
        (loading, refused credentials, too many clients) as its ConnectionError family,
        anything else as ResponseError; a lost connection as its ConnectionError."""
        replies = self._replies
        if replies is None or replies.lost or self._loop is not asyncio.get_running_loop():
            replies = await self._connect()
        elif replies.stalled(time.monotonic()):
            replies.abort(RedisConnectionError("redis stopped answering"))
            replies = await self._connect()
        return await replies.send(_pack(args))

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """A script by its digest, loaded first when this Redis does not know it (a restart,
        SCRIPT FLUSH)."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", script.body)
        return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    async def _connect(self) -> _Replies:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests, a new worker): nothing carries over
            self._loop, self._replies, self._connecting = loop, None, asyncio.Lock()
        assert self._connecting is not None
        async with self._connecting:
            if self._replies is not None and not self._replies.lost:
                return self._replies  # another caller connected while this one waited
            self._replies = None
            closes = self._closes
            replies = await asyncio.wait_for(self._open(loop), CONNECT_TIMEOUT)
            if self._closes != closes:  # closed while this connection was being opened
                replies.abort()
                raise RedisConnectionError("redis connection closed")
            self._replies = replies
            return replies

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Replies:
        address = self._address
        if address.path:
            _, replies = await loop.create_unix_connection(_Replies, address.path)
        else:
            _, replies = await loop.create_connection(
                _Replies, address.host, address.port, ssl=address.tls_context()
            )
        try:
            if address.username:  # an ACL user, with or without a password (nopass)
                await replies.send(_pack(("AUTH", address.username, address.password or "")))
            elif address.password is not None:
                await replies.send(_pack(("AUTH", address.password)))
            if address.db:
                await replies.send(_pack(("SELECT", address.db)))
            # Always one round trip before use: what Redis says on accepting a connection
            # (too many clients, protected mode) is answered here, not to a caller.
            await replies.send(_pack(("PING",)))
        except BaseException as exc:
            replies.abort()
            if isinstance(exc, ResponseError):  # refused AUTH or SELECT: this Redis can't serve
                raise RedisConnectionError(f"redis refused the connection: {exc}") from None
            raise
        return replies

    def forget(self) -> None:
        """Drop the connection without touching its socket (a forked child's copy of it
        belongs to the parent)."""
        self._replies, self._loop, self._connecting = None, None, None

    async def close(self) -> None:
        self._closes += 1
        if self._replies is not None:
            self._replies.abort()
            self._replies = None


def _forget_in_child() -> None:
    for pipe in list(_INSTANCES):
        pipe.forget()


os.register_at_fork(after_in_child=_forget_in_child)
