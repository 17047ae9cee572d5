"""Rate limits kept in the store, so they hold across every app process.

Fixed one-window counters: cheap (one store round trip), and generous by default — someone
rotating credentials shares dozens of secrets in a minute. Subjects (a Slack user, a client
address) are hashed before they become store keys, so the store holds no addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable

from bot.config import Limit
from bot.errors import SecretError, StoreUnavailable
from bot.metrics import Metrics
from storage.base import SecretStore

log = logging.getLogger(__name__)


class RateLimited(SecretError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


CHECK_TIMEOUT = 0.5  # seconds; Slack's ack can wait for a limit check, but not for long


class RateLimiter:
    def __init__(
        self,
        store: SecretStore,
        clock: Callable[[], float] = time.time,
        timeout: float = CHECK_TIMEOUT,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._timeout = timeout
        self._blocked_until: dict[str, float] = {}  # key -> end of its window, this process

    def _key(self, kind: str, subject: str) -> str:
        digest = hashlib.sha256(f"{kind}\0{subject}".encode()).hexdigest()[:32]
        return f"{kind}:{digest}"

    async def check(self, kind: str, subject: str, limit: Limit) -> None:
        """Count this attempt; raise RateLimited when over. Fails open if the store is down:
        the action itself will then report the outage clearly. Bounded in time, because the
        Slack ack waits for it and a store that hangs must not cost the 3-second window."""
        if limit.count > 0:
            await self._count(self._key(kind, subject), kind, limit)

    def refuse_if_blocked(self, kind: str, subject: str, limit: Limit) -> None:
        """Raise RateLimited if this subject went over the limit in its current window.

        Free (no store round trip): it consults what `count_failure` learned. With several
        processes, each learns of the block on the subject's next failure there, so a client
        gets at most one extra try per process per window."""
        if limit.count <= 0:
            return
        key = self._key(kind, subject)
        until = self._blocked_until.get(key)
        if until is None:
            return
        now = self._clock()
        if now >= until:
            del self._blocked_until[key]
            return
        self._metrics.inc("oncelink_rate_limited_total", kind)
        raise RateLimited(max(1, math.ceil(until - now)))

    async def count_failure(self, kind: str, subject: str, limit: Limit) -> None:
        """Count a failed attempt; past the limit the subject is blocked until the window
        ends. Counting only failures keeps a successful action at one store round trip."""
        if limit.count > 0:
            key = self._key(kind, subject)
            try:
                await self._count(key, kind, limit)
            except RateLimited as exc:
                self._forget_stale()
                self._blocked_until[key] = self._clock() + exc.retry_after

    async def _count(self, key: str, kind: str, limit: Limit) -> None:
        now = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                count = await self._store.count_hit(key, limit.window, now)
        except (StoreUnavailable, TimeoutError):
            return
        if count > limit.count:
            self._metrics.inc("oncelink_rate_limited_total", kind)
            log.info("%s rate limit reached", kind)
            raise RateLimited(max(1, math.ceil(limit.window - (now % limit.window))))

    def _forget_stale(self) -> None:
        if len(self._blocked_until) > 10_000:  # bounded memory under a wide attack
            now = self._clock()
            self._blocked_until = {k: t for k, t in self._blocked_until.items() if t > now}


def client_address(peer: str | None, forwarded_for: str | None, trusted_depth: int) -> str:
    """The client's address. Behind `trusted_depth` proxies, the entry that the outermost
    trusted proxy appended; entries further left are whatever the client claimed."""
    if trusted_depth <= 0 or not forwarded_for:
        return peer or "unknown"
    entries = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if not entries:
        return peer or "unknown"
    return entries[-trusted_depth] if len(entries) >= trusted_depth else entries[0]
