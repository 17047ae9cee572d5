"""Rate limits kept in the store, so they hold across every app process.

Fixed one-window counters: cheap (one store round trip), and generous by default — someone
rotating credentials shares dozens of secrets in a minute. Subjects (a Slack user, a client
address) are hashed before they become store keys, so the store holds no addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable

from bot.config import Limit, ProxyNetwork
from bot.errors import SecretError, StoreUnavailable
from bot.metrics import Metrics
from storage.interfaces import Counters

log = logging.getLogger(__name__)


class RateLimited(SecretError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


CHECK_TIMEOUT = 0.5  # seconds; Slack's ack can wait for a limit check, but not for long


class RateLimiter:
    def __init__(
        self,
        store: Counters,
        clock: Callable[[], float] = time.time,
        timeout: float = CHECK_TIMEOUT,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._timeout = timeout

    def _key(self, kind: str, subject: str) -> str:
        digest = hashlib.sha256(f"{kind}\0{subject}".encode()).hexdigest()[:32]
        return f"{kind}:{digest}"

    async def check(self, kind: str, subject: str, limit: Limit) -> None:
        """Count this attempt; raise RateLimited when over. Fails open if the store is down:
        the action itself will then report the outage clearly. Bounded in time, because the
        Slack ack waits for it and a store that hangs must not cost the 3-second window.

        The count decides: the store's increment is atomic and returns this attempt's own
        place in the window, so however many arrive at once, exactly `limit.count` of them
        pass. (Asking "over yet?" first and counting afterwards let a burst all pass.)"""
        if limit.count > 0:
            await self._count(self._key(kind, subject), kind, limit)

    async def count_failure(self, kind: str, subject: str, limit: Limit) -> None:
        """Count a failed attempt, after the action failed; raise RateLimited when this one
        is over the limit. Only failures are counted, so a limited subject still succeeds
        whenever it is right: the limit slows down guessing, never the person with the link."""
        await self.check(kind, subject, limit)

    async def _count(self, key: str, kind: str, limit: Limit) -> None:
        now = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                count = await self._store.count_hit(key, limit.window, now)
        except (StoreUnavailable, TimeoutError):
            return
        if count > limit.count:
            self._metrics.inc("oncelink_rate_limited_total", kind)
            if count == limit.count + 1:  # once per subject and window, not per request
                log.info("%s rate limit reached", kind)
            raise RateLimited(max(1, math.ceil(limit.window - (now % limit.window))))


class ClientAddresses:
    """Which address a browser request comes from, for the reveal limit.

    `X-Forwarded-For` is whatever the client wrote, plus what each proxy appended. It is read
    only when the TCP peer is a proxy the operator named (TRUSTED_PROXIES), or, with no
    TRUSTED_PROXIES, when TRUSTED_PROXY_DEPTH says proxies stand in front (the setting's
    meaning before TRUSTED_PROXIES existed, kept). Otherwise the peer's own address counts:
    rotating a forged header must not buy anyone a fresh limit.
    """

    def __init__(self, trusted_proxies: tuple[ProxyNetwork, ...], trusted_depth: int) -> None:
        self._proxies = trusted_proxies
        self._depth = trusted_depth
        self._warned = False

    def of(self, peer: str | None, forwarded_for: str | None) -> str:
        if (
            forwarded_for is not None
            and not self._warned
            and not header_trusted(peer, self._depth, self._proxies)
        ):
            # Once per process: behind a proxy every request carries the header, and the
            # fix is the operator's. Neither address is logged.
            self._warned = True
            log.warning(
                "X-Forwarded-For arrived from a peer that is not a trusted proxy and is "
                "ignored: reveal limits count the peer's own address. Behind a reverse "
                "proxy, set TRUSTED_PROXIES to its address (this is logged once)."
            )
        return client_address(peer, forwarded_for, self._depth, self._proxies)


def header_trusted(
    peer: str | None, trusted_depth: int, trusted_proxies: tuple[ProxyNetwork, ...]
) -> bool:
    """Whether this peer's X-Forwarded-For is read: a peer in TRUSTED_PROXIES when that is
    set, any peer when only TRUSTED_PROXY_DEPTH is."""
    if trusted_proxies:
        return _in_networks(peer, trusted_proxies)
    return trusted_depth > 0


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    trusted_depth: int,
    trusted_proxies: tuple[ProxyNetwork, ...] = (),
) -> str:
    """The client's address by the rules in ClientAddresses."""
    if forwarded_for is not None and header_trusted(peer, trusted_depth, trusted_proxies):
        return _forwarded_client(forwarded_for, peer, trusted_depth, trusted_proxies)
    return peer or "unknown"


def _forwarded_client(
    forwarded_for: str, peer: str | None, depth: int, proxies: tuple[ProxyNetwork, ...]
) -> str:
    """With a depth, the entry the outermost of `depth` proxies appended (entries further left
    are whatever the client claimed). Without one, the rightmost entry that is not itself a
    trusted proxy: each trusted proxy vouches for the hop before it, and no further."""
    entries = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if not entries:
        return peer or "unknown"
    if depth > 0:
        return entries[-depth] if len(entries) >= depth else entries[0]
    for entry in reversed(entries):
        if not _in_networks(entry, proxies):
            return entry
    return entries[0]


def _in_networks(address: str | None, networks: tuple[ProxyNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip in network for network in networks)


class CreationLimit:
    """RATE_LIMIT_CREATE, the one rule for everything that makes something in a person's
    name: a secret, a compose link, a request (a DM to anyone under the app's name, which
    unlimited is spam), an API upload. One count per creator across all of them."""

    def __init__(self, limiter: RateLimiter, limit: Limit) -> None:
        self._limiter = limiter
        self._limit = limit

    async def check(self, creator: str) -> None:
        """Count one creation by `creator` (an opaque identity); RateLimited when over."""
        await self._limiter.check("create", creator, self._limit)
