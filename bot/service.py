"""The core: create, reveal, burn and look at secrets. No Slack, no HTTP.

Edges (the Slack handlers, the web page, the CLI) pass plain values in and turn the domain
errors of bot.errors into what their user sees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from bot import crypto
from bot.compose import ComposeDesk
from bot.config import Limit
from bot.errors import (
    BrokenLink,
    InvalidSecret,
    NotCreator,
    SecretGone,
    StoreUnavailable,
    WrongPassphrase,
)
from bot.metrics import Metrics
from bot.outside import OutsideDesk
from bot.ratelimit import CreationLimit, RateLimiter
from bot.requests import SecretRequests
from bot.tokens import TokenDesk
from storage.base import (
    BurnOutcome,
    Listing,
    RevealOutcome,
    RevealResult,
    SecretRecord,
    SecretStatus,
)
from storage.interfaces import SecretStore

log = logging.getLogger(__name__)

MAX_SECRET_BYTES = 32 * 1024  # room for a PEM key or a kubeconfig; Slack's input stops at 3000
MIN_PASSPHRASE_LENGTH = 6
# Wrong passphrases a secret survives before it is destroyed: enough for typos, too few to
# guess a passphrase of MIN_PASSPHRASE_LENGTH. The store counts them; this decides.
MAX_PASSPHRASE_ATTEMPTS = 5
OUTCOME_KEPT_FOR = 24 * 3600  # how long a creator's list shows what became of a secret
EXPIRY_GRACE = 30.0  # a reveal in the last instant is recorded before the expiry is
# The creator `oncelink share` stores: no person, so nobody to list its secrets for or to
# tell what became of them (`has_creator`).
CLI_CREATOR = "cli"
SWEEP_BATCH, SWEEP_BATCHES = 100, 50  # up to 5,000 expiry receipts per process per sweep


class Outcome:
    WAITING = "waiting"
    REVEALED = "revealed"
    BURNED = "burned"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # a request withdrawn by its requester (bot/outside.py)


# json.dumps with `separators` builds a new encoder on every call; one kept encoder writes
# the same text for less, and every secret created writes two such texts.
compact_json = json.JSONEncoder(separators=(",", ":")).encode


def short_id(secret_id: str) -> str:
    """The only form of an id that may appear in logs: enough to correlate, not to look up."""
    return secret_id[:6] + "…"


@dataclass(frozen=True, slots=True)
class CreatedSecret:
    secret_id: str
    link: str = ""  # holds the key: hand it to the creator, never to a log
    expires_at: float = 0.0
    key: str = field(default="", repr=False)  # the link's #fragment alone (bound secrets)

    def __repr__(self) -> str:  # keeps the link out of tracebacks and debug prints
        return f"CreatedSecret({short_id(self.secret_id)!r}, expires_at={self.expires_at})"


class RevealedSecret(NamedTuple):
    """Still encrypted: the browser holds the key and decrypts. A named tuple, like
    SecretRecord (storage/base.py says why)."""

    version: int
    nonce: bytes
    ciphertext: bytes


class RevealReceipt(NamedTuple):
    """What listeners hear when a secret with a creator to tell was revealed (`has_creator`).
    No secret material at all. A named tuple, like SecretRecord (storage/base.py says why)."""

    secret_id: str
    creator: str
    metadata: str
    created_at: float
    revealed_at: float
    expires_at: float = 0.0


RevealListener = Callable[[RevealReceipt], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SecretSummary:
    """One line of a creator's list: what it was for and what became of it. No secret."""

    secret_id: str
    metadata: str
    created_at: float
    expires_at: float
    outcome: str
    outcome_at: float = 0.0

    def to_bytes(self) -> bytes:
        return compact_json(
            [self.metadata, self.created_at, self.expires_at, self.outcome, self.outcome_at]
        ).encode()

    @classmethod
    def from_bytes(cls, secret_id: str, raw: bytes) -> SecretSummary | None:
        try:
            metadata, created_at, expires_at, outcome, outcome_at = json.loads(raw)
            return cls(secret_id, str(metadata), created_at, expires_at, outcome, outcome_at)
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    """What listeners hear when a tracked secret expired unread: its creator is one to tell."""

    secret_id: str
    creator: str
    metadata: str
    created_at: float
    expires_at: float


ExpiryListener = Callable[[ExpiryNotice], Awaitable[None]]


def has_creator(creator: str) -> bool:
    """Whether a secret has a creator to list it for and to tell of its reveal or expiry.

    Identities are the edges' opaque strings: the core compares, never parses. Only two
    name nobody: none at all, and the CLI's (kept as it is so that every record stored
    so far keeps its meaning)."""
    return bool(creator) and creator != CLI_CREATOR


def seal_record(
    plaintext: str | bytes,
    *,
    secret_id: str,
    link_key: bytes,
    pass_key: bytes,
    now: float,
    ttl: int,
    creator: str = "",
    metadata: str = "",
    holder: str = "",
    binding_key: bytes = b"",
) -> SecretRecord:
    """The record the store keeps for a secret: ciphertext and verifiers, never a key.

    With a `holder`, the record is marked bound, so the store refuses it to every link
    reveal, and its link proof needs the server's `binding_key` (bot/crypto.py says why)."""
    keys = crypto.derive_keys(link_key, pass_key, secret_id)
    raw = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    nonce, ciphertext = crypto.seal(raw, keys.enc_key, secret_id)
    link_proof = (
        crypto.derive_holder_proof(link_key, secret_id, holder, binding_key)
        if holder
        else crypto.derive_link_proof(link_key, secret_id)
    )
    return SecretRecord(
        secret_id=secret_id,
        version=crypto.VERSION,
        nonce=nonce,
        ciphertext=ciphertext,
        link_verifier=crypto.verifier(link_proof),
        verifier=crypto.verifier(keys.auth),
        has_passphrase=bool(pass_key),
        created_at=now,
        expires_at=now + ttl,
        creator=creator,
        metadata=metadata,
        bound=bool(holder),
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
        binding_key: bytes | None = None,
        max_file_size: int = 10 * 1024 * 1024,
        creation_limit: CreationLimit | None = None,
    ) -> None:
        """`binding_key` goes into the proof of every secret bound to one person; every
        process that reveals them needs the same one (`oncelink serve` always has one, see
        bot/config.py). Without it, this service makes its own, which serves callers whose
        bound secrets never outlive the service (the CLI makes none; tests)."""
        self._store = store
        # RATE_LIMIT_CREATE, which every edge checks before making something in a person's
        # name; without one (the CLI, tests), nothing is limited.
        self.creation = creation_limit or CreationLimit(RateLimiter(store, clock), Limit(0, 60))
        self._binding_key = binding_key or os.urandom(crypto.KEY_BYTES)
        self.metrics = metrics or Metrics()
        self._public_url = public_url.rstrip("/")
        self._max_ttl = max_ttl
        self._clock = clock
        self._listeners: list[RevealListener] = []
        self._expiry_listeners: list[ExpiryListener] = []
        self._background: set[asyncio.Task[None]] = set()
        self.requests = SecretRequests(store, clock)  # asking someone for a secret
        # Secrets written and sealed in the browser, through a one-time compose link.
        self.compose = ComposeDesk(store, self, public_url=public_url, max_file_size=max_file_size)
        # Asking someone outside Slack: a one-time upload link, answered only to the requester.
        self.outside = OutsideDesk(
            store,
            self,
            public_url=public_url,
            binding_key=self._binding_key,
            max_file_size=max_file_size,
            max_text_bytes=MAX_SECRET_BYTES,
        )
        # Secrets sealed on a person's own machine, uploaded with their personal token.
        self.tokens = TokenDesk(store, self)

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers (readiness)."""
        await self._store.ping()

    def now(self) -> float:
        return self._clock()

    @property
    def max_ttl(self) -> int:
        return self._max_ttl

    def link_for(self, secret_id: str, link_key: bytes) -> str:
        return f"{self._public_url}/s/{secret_id}#{crypto.b64encode(link_key)}"

    def on_revealed(self, listener: RevealListener) -> None:
        """Receipts: run after the reveal answered, never delaying it, and only for secrets
        with a creator to tell (`has_creator`); the core marks the creator's list itself."""
        self._listeners.append(listener)

    def on_expired(self, listener: ExpiryListener) -> None:
        """Expiry receipts: heard by exactly one process per expired secret."""
        self._expiry_listeners.append(listener)

    def validate(self, plaintext: str, ttl: int, passphrase: str | None) -> None:
        """Raise InvalidSecret with a sentence a user can act on."""
        self.check_input(plaintext, ttl, self._max_ttl, passphrase)

    @staticmethod
    def check_input(plaintext: str, ttl: int, max_ttl: int, passphrase: str | None) -> None:
        """`validate` without a service: what the CLI says before it opens any store."""
        if not plaintext or not plaintext.strip():
            raise InvalidSecret("The secret is empty.")
        if len(plaintext.encode("utf-8")) > MAX_SECRET_BYTES:
            raise InvalidSecret(f"The secret is too long (at most {MAX_SECRET_BYTES} bytes).")
        SecretService._check_ttl_and_passphrase(ttl, max_ttl, passphrase)

    @staticmethod
    def passphrase_too_short(passphrase: str | None) -> bool:
        """The passphrase rule, in one place: for `create`, and for an edge that refuses on
        its form's own field before it calls `create`. Characters are counted after NFC, as
        the passphrase is derived from (bot/crypto.py)."""
        if not passphrase:
            return False
        return len(unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE_LENGTH

    @staticmethod
    def _check_ttl_and_passphrase(ttl: int, max_ttl: int, passphrase: str | None) -> None:
        if not 0 < ttl <= max_ttl:
            raise InvalidSecret("That expiry is longer than this app allows.")
        if SecretService.passphrase_too_short(passphrase):
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
        bound_to: str = "",
        track: bool = False,
    ) -> CreatedSecret:
        """Encrypt under a fresh key, store, and return the only copy of the link.

        `bound_to` (an identity such as a Slack user) makes a secret that only that identity
        can reveal, through `reveal_for`: the link itself will not open it. `track` puts it
        on the creator's list (`my_secrets`) and the expiry timetable, when it has a
        creator to tell (`has_creator`); its reveal, burn or expiry is then marked there."""
        self.validate(plaintext, ttl, passphrase)
        return await self._seal_and_store(
            plaintext.encode("utf-8"),
            ttl=ttl,
            passphrase=passphrase,
            creator=creator,
            metadata=metadata,
            bound_to=bound_to,
            track=track,
        )

    async def create_file(
        self,
        file: crypto.FileContent,
        *,
        ttl: int,
        passphrase: str | None = None,
        creator: str = "",
        metadata: str = "",
        track: bool = False,
    ) -> CreatedSecret:
        """A file secret, sealed exactly as a compose page seals one (its name and type
        inside the ciphertext, bot/crypto.py FILE_MARK), so the reveal page saves it."""
        if not file.data:
            raise InvalidSecret("The file is empty.")
        if len(file.data) > self.compose.max_file_size:
            raise InvalidSecret("The file is larger than this app allows (MAX_FILE_SIZE).")
        self._check_ttl_and_passphrase(ttl, self._max_ttl, passphrase)
        try:
            plaintext = crypto.file_plaintext(file.name, file.media_type, file.data)
        except ValueError:
            raise InvalidSecret("The file's name is too long.") from None
        return await self._seal_and_store(
            plaintext,
            ttl=ttl,
            passphrase=passphrase,
            creator=creator,
            metadata=metadata,
            track=track,
        )

    async def _seal_and_store(
        self,
        plaintext: bytes,
        *,
        ttl: int,
        passphrase: str | None,
        creator: str,
        metadata: str,
        track: bool,
        bound_to: str = "",
    ) -> CreatedSecret:
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
            holder=bound_to,
            binding_key=self._binding_key,
        )
        created = await self.store_sealed(record, track=track)
        return replace(
            created, key=crypto.b64encode(link_key), link=self.link_for(secret_id, link_key)
        )

    async def store_sealed(self, record: SecretRecord, *, track: bool) -> CreatedSecret:
        """Store a record sealed elsewhere (here by `create`, or in a browser: bot/compose.py).
        The answer holds no link: whoever sealed it holds the key."""
        listing = None
        if track and has_creator(record.creator):
            summary = SecretSummary(
                record.secret_id,
                record.metadata,
                record.created_at,
                record.expires_at,
                Outcome.WAITING,
            )
            listing = Listing(
                owner=record.creator,
                entry_id=record.secret_id,
                entry=summary.to_bytes(),
                keep_until=record.expires_at + OUTCOME_KEPT_FOR,
                due_item=f"{record.secret_id} {record.creator}",
                due=record.expires_at,
            )
        await self._store.save(record, listing)
        self.metrics.inc("oncelink_secrets_created_total")
        log.info(
            "secret %s created, expires in %ss",
            short_id(record.secret_id),
            round(record.expires_at - record.created_at),
        )
        return CreatedSecret(record.secret_id, expires_at=record.expires_at)

    async def _track(self, summary: SecretSummary, creator: str) -> None:
        """What became of a secret, on its creator's list. A failure here never undoes
        anything: the list is a convenience, the secret is what was asked for."""
        try:
            await self._store.keep_entry(
                creator,
                summary.secret_id,
                summary.to_bytes(),
                max(summary.expires_at, summary.outcome_at) + OUTCOME_KEPT_FOR,
                self._clock(),
            )
        except StoreUnavailable:
            log.warning("secret %s: creator's list not updated", short_id(summary.secret_id))

    async def _settle(self, secret_id: str, creator: str, outcome: str) -> SecretSummary | None:
        """Record what became of a secret in its creator's list; the summary it had before."""
        if not creator:
            return None
        now = self._clock()
        try:
            found = (await self._store.entries(creator, now)).get(secret_id)
        except StoreUnavailable:
            log.warning("secret %s: creator's list not updated", short_id(secret_id))
            return None
        before = SecretSummary.from_bytes(secret_id, found) if found else None
        if before is None or before.outcome != Outcome.WAITING:
            return None
        await self._track(
            replace(before, outcome=outcome, outcome_at=now),
            creator,
        )
        return before

    async def _mark_revealed(self, receipt: RevealReceipt) -> None:
        """Mark a secret revealed on its creator's list: one write, no read, as the receipt
        carries everything the list shows. Started only for a secret with a creator to tell,
        so reveals of the others (the CLI's, the benchmark's) cost nothing extra."""
        await self._track(
            SecretSummary(
                receipt.secret_id,
                receipt.metadata,
                receipt.created_at,
                receipt.expires_at,
                Outcome.REVEALED,
                receipt.revealed_at,
            ),
            receipt.creator,
        )

    async def my_secrets(self, creator: str) -> list[SecretSummary]:
        """A creator's secrets, newest first: waiting ones and, for a day, the outcomes."""
        now = self._clock()
        found = await self._store.entries(creator, now)
        summaries = [SecretSummary.from_bytes(sid, raw) for sid, raw in found.items()]
        listed = [s for s in summaries if s is not None]
        for n, summary in enumerate(listed):
            if summary.outcome == Outcome.WAITING and summary.expires_at <= now:
                # Not swept yet (the sweep runs once a minute): it has expired all the same.
                listed[n] = replace(summary, outcome=Outcome.EXPIRED, outcome_at=summary.expires_at)
        return sorted(listed, key=lambda s: s.created_at, reverse=True)

    async def sweep_expired(self, now: float | None = None) -> int:
        """Tell the creators of secrets that expired unread. Any number of processes may
        sweep at once: the timetable hands each expired secret to exactly one of them."""
        now = self._clock() if now is None else now
        told = 0
        for _ in range(SWEEP_BATCHES):
            due = await self._store.claim_due(now - EXPIRY_GRACE, SWEEP_BATCH)
            told += await self._announce_expired(due)
            if len(due) < SWEEP_BATCH:
                break
        return told

    async def _announce_expired(self, due: list[str]) -> int:
        told = 0
        for item in due:
            secret_id, _, creator = item.partition(" ")
            before = await self._settle(secret_id, creator, Outcome.EXPIRED)
            if before is None:
                continue  # revealed or burned in time
            self.metrics.inc("oncelink_secrets_expired_unread_total")
            notice = ExpiryNotice(
                secret_id, creator, before.metadata, before.created_at, before.expires_at
            )
            for listener in self._expiry_listeners:
                self._spawn(listener(notice))
            told += 1
        return told

    async def status(self, secret_id: str) -> SecretStatus:
        if not crypto.is_secret_id(secret_id):
            raise SecretGone()
        status = await self._store.status(
            secret_id, self._clock(), max_attempts=MAX_PASSPHRASE_ATTEMPTS
        )
        if status is None:
            raise SecretGone()
        return status

    async def reveal(self, secret_id: str, link_proof: bytes, auth: bytes) -> RevealedSecret:
        """The one step that burns: exactly one caller ever gets the ciphertext. The link's
        reveal: a secret bound to one person is refused here, whatever the proof."""
        if not crypto.is_secret_id(secret_id):
            raise SecretGone()
        now = self._clock()
        result = await self._store.reveal(
            secret_id,
            crypto.verifier(link_proof),
            crypto.verifier(auth),
            now,
            max_attempts=MAX_PASSPHRASE_ATTEMPTS,
        )
        return self._revealed(secret_id, result, now)

    def _revealed(self, secret_id: str, result: RevealResult, now: float) -> RevealedSecret:
        """A store's answer to a reveal as the record, or as the domain error it means."""
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
        if has_creator(record.creator):
            receipt = RevealReceipt(
                secret_id,
                record.creator,
                record.metadata,
                record.created_at,
                revealed_at=now,
                expires_at=record.expires_at,
            )
            # Started, not awaited: the one who clicked gets the secret first. Each step its
            # own task, so a slow or failing receipt never holds up the list, nor the reverse.
            self._spawn(self._mark_revealed(receipt))
            for listener in self._listeners:
                self._spawn(listener(receipt))
        return RevealedSecret(record.version, record.nonce, record.ciphertext)

    async def reveal_for(
        self, secret_id: str, key: str, holder: str, passphrase: str | None = None
    ) -> str:
        """Reveal a bound secret to the identity it was bound to, decrypting here, in memory,
        for this one answer. Anyone else gets BrokenLink and nothing is burned. `holder` is
        who the edge vouches is asking (Slack signs who clicked), never who the caller says."""
        try:
            link_key = crypto.b64decode(key, crypto.KEY_BYTES)
        except ValueError:
            raise BrokenLink() from None
        if not crypto.is_secret_id(secret_id) or not holder:
            raise BrokenLink()
        pass_key = (
            await asyncio.to_thread(crypto.passphrase_key, passphrase, secret_id)
            if passphrase
            else b""
        )
        revealed = await self.reveal_bound(secret_id, link_key, holder, pass_key)
        keys = crypto.derive_keys(link_key, pass_key, secret_id)
        plaintext = crypto.unseal(revealed.nonce, revealed.ciphertext, keys.enc_key, secret_id)
        return plaintext.decode("utf-8")

    async def reveal_bound(
        self, secret_id: str, link_key: bytes, holder: str, pass_key: bytes = b""
    ) -> RevealedSecret:
        """The sealed record of a bound secret, once, for `holder`; decrypting is the
        caller's (`reveal_for`, or an answer asked outside Slack, sealed otherwise)."""
        if not crypto.is_secret_id(secret_id) or not holder:
            raise BrokenLink()
        keys = crypto.derive_keys(link_key, pass_key, secret_id)
        auth = crypto.verifier(keys.auth)
        now = self._clock()

        async def reveal_with(proof: bytes) -> RevealResult:
            return await self._store.reveal(
                secret_id,
                crypto.verifier(proof),
                auth,
                now,
                max_attempts=MAX_PASSPHRASE_ATTEMPTS,
                bound_allowed=True,
            )

        result = await reveal_with(
            crypto.derive_holder_proof(link_key, secret_id, holder, self._binding_key)
        )
        if result.outcome is RevealOutcome.BROKEN_LINK:
            # Stored before the binding key (unmarked, at most MAX_TTL ago): its proof was
            # made from the key and the identity alone. A wrong proof counts nothing, so
            # asking twice costs a stranger nothing either.
            result = await reveal_with(
                crypto.derive_unkeyed_holder_proof(link_key, secret_id, holder)
            )
        return self._revealed(secret_id, result, now)

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
        await self._settle(secret_id, creator, Outcome.BURNED)

    def spawn(self, work: Awaitable[None]) -> None:
        """Run `work` after the current answer, logged if it fails, awaited by `drain`."""
        self._spawn(work)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("a background step after a reveal or expiry failed")

        task = asyncio.ensure_future(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def idle(self) -> bool:
        """No receipt or other step after a reveal or expiry is still running."""
        return not self._background

    async def drain(self) -> None:
        """Let receipts in flight finish: called on shutdown."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
