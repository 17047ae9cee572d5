"""The core: create, reveal, burn and look at secrets. No Slack, no HTTP.

Edges (the Slack handlers, the web page, the CLI) pass plain values in and turn the domain
errors of bot.errors into what their user sees.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import crypto
from bot.errors import BrokenLink, InvalidSecret, NotCreator, SecretGone, WrongPassphrase
from bot.metrics import Metrics
from storage.base import (
    BurnOutcome,
    RevealOutcome,
    SecretRecord,
    SecretStatus,
    SecretStore,
)

log = logging.getLogger(__name__)

MAX_SECRET_BYTES = 32 * 1024  # room for a PEM key or a kubeconfig; Slack's input stops at 3000
MIN_PASSPHRASE_LENGTH = 6


def short_id(secret_id: str) -> str:
    """The only form of an id that may appear in logs: enough to correlate, not to look up."""
    return secret_id[:6] + "…"


@dataclass(frozen=True)
class CreatedSecret:
    secret_id: str
    link: str = ""  # holds the key: hand it to the creator, never to a log
    expires_at: float = 0.0

    def __repr__(self) -> str:  # keeps the link out of tracebacks and debug prints
        return f"CreatedSecret({short_id(self.secret_id)!r}, expires_at={self.expires_at})"


@dataclass(frozen=True)
class RevealedSecret:
    """Still encrypted: the browser holds the key and decrypts."""

    version: int
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class RevealReceipt:
    """What listeners hear when a secret was revealed. No secret material at all."""

    secret_id: str
    creator: str
    metadata: str
    created_at: float
    revealed_at: float


RevealListener = Callable[[RevealReceipt], Awaitable[None]]


def seal_record(
    plaintext: str,
    *,
    secret_id: str,
    link_key: bytes,
    pass_key: bytes,
    now: float,
    ttl: int,
    creator: str = "",
    metadata: str = "",
) -> SecretRecord:
    """The record the store keeps for a secret: ciphertext and verifiers, never a key."""
    keys = crypto.derive_keys(link_key, pass_key, secret_id)
    nonce, ciphertext = crypto.seal(plaintext.encode("utf-8"), keys.enc_key, secret_id)
    return SecretRecord(
        secret_id=secret_id,
        version=crypto.VERSION,
        nonce=nonce,
        ciphertext=ciphertext,
        link_verifier=crypto.verifier(crypto.derive_link_proof(link_key, secret_id)),
        verifier=crypto.verifier(keys.auth),
        has_passphrase=bool(pass_key),
        created_at=now,
        expires_at=now + ttl,
        creator=creator,
        metadata=metadata,
    )


class SecretService:
    def __init__(
        self,
        store: SecretStore,
        *,
        public_url: str,
        max_ttl: int,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self.metrics = metrics or Metrics()
        self._public_url = public_url.rstrip("/")
        self._max_ttl = max_ttl
        self._clock = clock
        self._listeners: list[RevealListener] = []
        self._background: set[asyncio.Task[None]] = set()

    @property
    def store(self) -> SecretStore:
        return self._store

    def link_for(self, secret_id: str, link_key: bytes) -> str:
        return f"{self._public_url}/s/{secret_id}#{crypto.b64encode(link_key)}"

    def on_revealed(self, listener: RevealListener) -> None:
        """Receipts and the like: run after the reveal answered, never delaying it."""
        self._listeners.append(listener)

    def validate(self, plaintext: str, ttl: int, passphrase: str | None) -> None:
        """Raise InvalidSecret with a sentence a user can act on."""
        if not plaintext or not plaintext.strip():
            raise InvalidSecret("The secret is empty.")
        if len(plaintext.encode("utf-8")) > MAX_SECRET_BYTES:
            raise InvalidSecret(f"The secret is too long (at most {MAX_SECRET_BYTES} bytes).")
        if not 0 < ttl <= self._max_ttl:
            raise InvalidSecret("That expiry is longer than this app allows.")
        if passphrase and len(unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE_LENGTH:
            raise InvalidSecret(
                f"The passphrase is too short (at least {MIN_PASSPHRASE_LENGTH} characters)."
            )

    async def create(
        self,
        plaintext: str,
        *,
        ttl: int,
        passphrase: str | None = None,
        creator: str = "",
        metadata: str = "",
    ) -> CreatedSecret:
        """Encrypt under a fresh key, store, and return the only copy of the link."""
        self.validate(plaintext, ttl, passphrase)
        secret_id = crypto.new_secret_id()
        link_key = crypto.new_link_key()
        # PBKDF2 at 600k rounds takes a fraction of a second: keep it off the event loop.
        pass_key = (
            await asyncio.to_thread(crypto.passphrase_key, passphrase, secret_id)
            if passphrase
            else b""
        )
        record = seal_record(
            plaintext,
            secret_id=secret_id,
            link_key=link_key,
            pass_key=pass_key,
            now=self._clock(),
            ttl=ttl,
            creator=creator,
            metadata=metadata,
        )
        await self._store.save(record)
        self.metrics.inc("oncelink_secrets_created_total")
        log.info("secret %s created, expires in %ss", short_id(secret_id), ttl)
        return CreatedSecret(secret_id, self.link_for(secret_id, link_key), record.expires_at)

    async def status(self, secret_id: str) -> SecretStatus:
        if not crypto.is_secret_id(secret_id):
            raise SecretGone()
        status = await self._store.status(secret_id, self._clock())
        if status is None:
            raise SecretGone()
        return status

    async def reveal(self, secret_id: str, link_proof: bytes, auth: bytes) -> RevealedSecret:
        """The one step that burns: exactly one caller ever gets the ciphertext."""
        if not crypto.is_secret_id(secret_id):
            raise SecretGone()
        now = self._clock()
        result = await self._store.reveal(
            secret_id, crypto.verifier(link_proof), crypto.verifier(auth), now
        )
        if result.outcome is RevealOutcome.BROKEN_LINK:
            self.metrics.inc("oncelink_broken_links_total")
            log.info("secret %s: reveal refused, link does not match", short_id(secret_id))
            raise BrokenLink()
        if result.outcome is RevealOutcome.WRONG_PASSPHRASE:
            self.metrics.inc("oncelink_passphrase_failures_total")
            log.info("secret %s: wrong passphrase", short_id(secret_id))
            raise WrongPassphrase(result.attempts_left)
        if result.outcome is RevealOutcome.GONE or result.record is None:
            raise SecretGone()
        record = result.record
        self.metrics.inc("oncelink_secrets_revealed_total")
        log.info("secret %s revealed and deleted", short_id(secret_id))
        receipt = RevealReceipt(
            secret_id, record.creator, record.metadata, record.created_at, revealed_at=now
        )
        for listener in self._listeners:
            self._spawn(listener(receipt))
        return RevealedSecret(record.version, record.nonce, record.ciphertext)

    async def burn(self, secret_id: str, creator: str) -> None:
        if not crypto.is_secret_id(secret_id):
            raise SecretGone()
        outcome = await self._store.burn(secret_id, creator, self._clock())
        if outcome is BurnOutcome.NOT_CREATOR:
            raise NotCreator()
        if outcome is BurnOutcome.GONE:
            raise SecretGone()
        self.metrics.inc("oncelink_secrets_burned_total")
        log.info("secret %s burned by its creator", short_id(secret_id))

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("a reveal listener failed")

        task = asyncio.ensure_future(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Let receipts in flight finish: called on shutdown."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
