"""Secrets written in the browser: the compose link's life and the sealed upload it allows.

The creator asks an edge (Slack) for a compose link; the core hands out a random token,
single-use, that expires after COMPOSE_TTL and stands for that creator. The store keeps only
a hash of the token, so a copy of the store cannot open a compose page. The page seals the
secret with protocol v1 in the browser and uploads ciphertext and verifiers: neither the
edge nor this server ever holds the plaintext or the link key (unless the creator asks the
app to pass the link on, which the page says goes through Slack).

The secret's id is derived from the token, so the page knows it before sealing (the id is
in the sealed message's context) and the server, not the browser, decides it: an upload can
never name, and so overwrite, someone else's secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import crypto
from bot.errors import InvalidSecret, SecretError, StoreUnavailable
from storage.base import SecretRecord
from storage.interfaces import KeyValues

if TYPE_CHECKING:
    from bot.service import CreatedSecret, SecretService

log = logging.getLogger(__name__)

COMPOSE_TTL = 600  # long enough to find a file and type a note, short enough to go stale
TOKEN_BYTES = 32
TOKEN_LENGTH = 43  # base64url of 32 bytes, unpadded
# What a sealed message adds to what was sealed: the GCM tag, and for a file its mark,
# header length and header (bot/crypto.py, FILE_MARK).
SEAL_OVERHEAD = 16 + 3 + crypto.MAX_FILE_HEADER


class ComposeLinkGone(SecretError):
    """Used, expired or never made: one answer for all, as for secrets."""


class ComposeLinkInUse(SecretError):
    """Another upload holds the link right now: not over, try again in a moment (it is
    given back if that upload stores nothing)."""


@dataclass(frozen=True, slots=True)
class ComposeGrant:
    """Whom a compose link stands for and what the page may offer them."""

    creator: str  # the identity the secret will belong to (its list, Burn, receipts)
    metadata: str  # stored beside the secret, opaque to the core (the edge's)
    expiry_choices: tuple[int, ...]
    default_ttl: int
    # Someone the edge can pass the link on to, shown on the page; empty for nobody.
    recipient_label: str = ""
    edge: str = ""  # opaque to the core: what the edge needs to speak back afterwards

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "c": self.creator,
                "m": self.metadata,
                "x": list(self.expiry_choices),
                "d": self.default_ttl,
                "r": self.recipient_label,
                "e": self.edge,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ComposeGrant:
        fields = json.loads(raw)
        return cls(
            creator=str(fields["c"]),
            metadata=str(fields["m"]),
            expiry_choices=tuple(int(ttl) for ttl in fields["x"]),
            default_ttl=int(fields["d"]),
            recipient_label=str(fields.get("r", "")),
            edge=str(fields.get("e", "")),
        )


@dataclass(frozen=True, slots=True)
class ComposeTicket:
    link: str = field(repr=False)  # holds the token: to its creator only, never to a log
    expires_at: float


@dataclass(frozen=True, slots=True)
class ComposeLease:
    """A compose link taken for one upload: used up in the store while the upload runs,
    given back (`ComposeDesk.give_back`) if it stores nothing."""

    token: str = field(repr=False)
    grant: ComposeGrant
    expires_at: float
    raw: bytes = field(repr=False)  # the stored value, to put back as it was
    # This lease's own mark on the link while it holds it: cleared only while it still holds
    # this value, never a later upload's.
    mark: bytes = field(default_factory=lambda: os.urandom(16).hex().encode(), repr=False)

    @property
    def secret_id(self) -> str:
        return secret_id_for(self.token)


@dataclass(frozen=True, slots=True)
class SealedUpload:
    """What a compose page sends: protocol v1's stored values, made in the browser."""

    version: int
    nonce: bytes
    ciphertext: bytes = field(repr=False)
    link_verifier: bytes
    verifier: bytes
    has_passphrase: bool
    ttl: int
    # The whole link, only when the creator ticked "send it to …": it then passes through
    # the edge (Slack), as the page says. Empty otherwise, and never logged.
    pass_on_link: str = field(default="", repr=False)

    def record(self, secret_id: str, now: float, creator: str, metadata: str) -> SecretRecord:
        """The record to store: what the sender sealed, under the id and creator the server
        chose (a compose link's, an API token's), expiring `ttl` after `now`."""
        return SecretRecord(
            secret_id=secret_id,
            version=self.version,
            nonce=self.nonce,
            ciphertext=self.ciphertext,
            link_verifier=self.link_verifier,
            verifier=self.verifier,
            has_passphrase=self.has_passphrase,
            created_at=now,
            expires_at=now + self.ttl,
            creator=creator,
            metadata=metadata,
        )


@dataclass(frozen=True, slots=True)
class ComposedSecret:
    """What listeners hear once a composed secret is stored. The link only when the
    creator asked for it to be passed on."""

    secret_id: str
    grant: ComposeGrant
    expires_at: float
    pass_on_link: str = field(default="", repr=False)


ComposeListener = Callable[[ComposedSecret], Awaitable[None]]


def _key(token: str) -> str:
    # Only a hash of the token is kept: a store dump shows no usable compose link.
    return "compose:" + hashlib.sha256(token.encode("ascii")).hexdigest()


def _leased_key(token: str) -> str:
    # Set while an upload holds the link, so a second upload hears "in use", not "gone".
    return "compose-leased:" + hashlib.sha256(token.encode("ascii")).hexdigest()


def is_token(text: str) -> bool:
    """Whether `text` is a well-formed token: checked before the store is asked."""
    try:
        crypto.b64decode(text, TOKEN_BYTES)
    except ValueError:
        return False
    return True


def secret_id_for(token: str) -> str:
    """The id of the secret a compose link will make: fixed by the token, unknowable
    without it, and different from anything derived from it for the store."""
    digest = hashlib.sha256(b"oncelink/v1/compose-id/" + token.encode("ascii")).digest()
    return crypto.b64encode(digest[: crypto.ID_BYTES])


class ComposeDesk:
    """Compose links and what they allow, reached as `service.compose`."""

    def __init__(
        self,
        store: KeyValues,
        service: SecretService,
        *,
        public_url: str,
        max_file_size: int,
    ) -> None:
        self._store = store
        self._service = service
        self._public_url = public_url.rstrip("/")
        self.max_file_size = max_file_size
        self._listeners: list[ComposeListener] = []

    @property
    def max_upload(self) -> int:
        """The most ciphertext one upload may carry: a file at the limit, sealed."""
        return self.max_file_size + SEAL_OVERHEAD

    def on_composed(self, listener: ComposeListener) -> None:
        """The edge's part after the secret is stored (passing the link on)."""
        self._listeners.append(listener)

    async def issue(self, grant: ComposeGrant) -> ComposeTicket:
        """A fresh compose link for `grant`'s creator, valid once for COMPOSE_TTL."""
        if not grant.expiry_choices or grant.default_ttl not in grant.expiry_choices:
            raise ValueError("a grant offers its default expiry among its choices")
        token = crypto.b64encode(crypto.new_link_key())
        expires_at = self._service.now() + COMPOSE_TTL
        # The expiry rides in the value too: the store drops the key by its own clock
        # (Redis), the core decides by the service's.
        value = json.dumps([expires_at]).encode() + b"\n" + grant.to_bytes()
        await self._store.put(_key(token), value, expires_at)
        log.info("compose link issued, valid for %ss", COMPOSE_TTL)
        return ComposeTicket(f"{self._public_url}/c/{token}", expires_at)

    async def look(self, token: str) -> ComposeGrant:
        """The grant behind a compose page, without using it up (GET never uses anything).
        ComposeLinkGone when used, expired or never made."""
        if not is_token(token):
            raise ComposeLinkGone()
        _, grant = self._unless_expired(await self._store.get(_key(token), self._service.now()))
        return grant

    def _unless_expired(self, raw: bytes | None) -> tuple[float, ComposeGrant]:
        if raw is None:
            raise ComposeLinkGone()
        head, _, grant = raw.partition(b"\n")
        until = float(json.loads(head)[0])
        if until <= self._service.now():
            raise ComposeLinkGone()
        return until, ComposeGrant.from_bytes(grant)

    async def take(self, token: str) -> ComposeLease:
        """Take the compose link for one upload, in one atomic step, before a byte of it is
        read: of any number of uploads at once to one link, one gets it and the others are
        refused at once, so one link never makes the server read more than one file."""
        if not is_token(token):
            raise ComposeLinkGone()
        now = self._service.now()
        raw = await self._store.take(_key(token), now)
        if raw is None and await self._store.get(_leased_key(token), now) is not None:
            raise ComposeLinkInUse()
        expires_at, grant = self._unless_expired(raw)
        assert raw is not None  # _unless_expired refused None
        lease = ComposeLease(token, grant, expires_at, raw)
        try:
            await self._store.put(_leased_key(token), lease.mark, expires_at)
        except StoreUnavailable:
            await self.give_back(lease)  # taken but not marked: back now, never lost
            raise
        return lease

    async def _unmark(self, lease: ComposeLease) -> None:
        try:
            await self._store.delete_if(_leased_key(lease.token), lease.mark)
        except StoreUnavailable:
            log.warning("store unavailable while clearing a compose link's upload mark")

    async def give_back(self, lease: ComposeLease) -> None:
        """An upload that stored nothing (cut off, too slow, malformed) puts the link back,
        with its original expiry, so the creator can try again from the same page."""
        try:
            if lease.expires_at > self._service.now():
                await self._store.put(_key(lease.token), lease.raw, lease.expires_at)
        except StoreUnavailable:
            log.warning("store unavailable while giving a compose link back")
        await self._unmark(lease)

    def validate(self, grant: ComposeGrant, upload: SealedUpload, secret_id: str) -> None:
        """Raise InvalidSecret with a sentence the page can show."""
        if upload.version != crypto.VERSION:
            raise InvalidSecret("This page is out of date; reload it.")
        if upload.ttl not in grant.expiry_choices:
            raise InvalidSecret("Choose one of the offered expiry times.")
        if not upload.ciphertext:
            raise InvalidSecret("The secret is empty.")
        if len(upload.ciphertext) > self.max_upload:
            raise InvalidSecret("The file is larger than this app allows.")
        if upload.pass_on_link and not self.is_link_of(upload.pass_on_link, secret_id):
            raise InvalidSecret("That is not this secret's link.")
        if upload.pass_on_link and not grant.recipient_label:
            raise InvalidSecret("Nobody was chosen to send the link to.")

    def is_link_of(self, link: str, secret_id: str) -> bool:
        """Whether `link` is exactly a link to `secret_id`: our address, the id, and a key in
        its one canonical spelling. The app posts this text in Slack on the creator's behalf,
        so nothing may ride along after the key (a `>` or `|` would end Slack's <link>
        markup early and let the rest read as a message of its own)."""
        prefix = f"{self._public_url}/s/{secret_id}#"
        if not link.startswith(prefix):
            return False
        try:
            crypto.b64decode(link[len(prefix) :], crypto.KEY_BYTES)  # strict: canonical only
        except ValueError:
            return False
        return True

    async def fill(self, lease: ComposeLease, upload: SealedUpload) -> CreatedSecret:
        """Store the sealed secret as the grant's creator's. The link was used up by
        `take`; an upload `validate` refuses should be given back by the caller."""
        self.validate(lease.grant, upload, lease.secret_id)
        grant = lease.grant
        record = upload.record(lease.secret_id, self._service.now(), grant.creator, grant.metadata)
        try:
            created = await self._service.store_sealed(record, track=True)
        finally:
            # Stored, or not and not given back (the store failed): either way the link is
            # no longer in use, and a second upload hears it is gone.
            await self._unmark(lease)
        composed = ComposedSecret(lease.secret_id, grant, record.expires_at, upload.pass_on_link)
        for listener in self._listeners:
            # After the answer, like receipts: the link is on the creator's screen whatever
            # Slack does, and a failed hand-on is the edge's to tell.
            self._service.spawn(listener(composed))
        return created
