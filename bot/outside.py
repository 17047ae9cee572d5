"""Asking someone outside Slack for a secret: a one-time upload link whose answer only the
requester can open.

The upload link can seal an answer but never open one. At request time the core draws, and
forgets once the edge has handed them on:
- `u`, the upload key: in the upload link's `#fragment` only. It proves the right to upload
  (its proof is checked before a body is read) and opens nothing.
- `(d, Q)`, the requester's P-256 key pair: `Q` rides in the upload link's fragment beside
  `u`, so the outside person's browser seals the answer to it (ECDH with a fresh ephemeral
  key `e`); `d` rides only in the requester's Reveal button. Every proof that opens the
  answer (the bound holder proof for a text, the link proof for a file, the auth proof) is
  derived from `d`, so neither the upload link nor a copy of the store, nor both together,
  opens the answer.

What the store keeps while the request waits is what it would keep for the answer: hashes
of proofs (the bound holder proof for a text, `d`'s link proof for a file, the auth proof,
and the upload proof an upload must carry), the requester's identity and the note they
declared not secret. The browser sends the upload proof, a nonce and `E || ciphertext`
only; the server, not the browser, decides every verifier, so an upload can neither open
the answer to someone else nor name another secret.

docs/SECURITY.md "Secrets asked of someone outside Slack" gives the exact protocol.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag

from bot import crypto
from bot.errors import BrokenLink, InvalidSecret, NotCreator, SecretError, StoreUnavailable
from storage.base import SecretRecord

if TYPE_CHECKING:
    from bot.service import SecretService
    from storage.interfaces import SecretStore

log = logging.getLogger(__name__)

TEXT, FILE = "text", "file"
TAG_BYTES = 16  # AES-GCM's tag, on every ciphertext
# What sealing adds to every answer: the ephemeral public key `E` in front, the tag behind.
SEAL_BYTES = crypto.PUBLIC_KEY_BYTES + TAG_BYTES
# What a sealed file adds to the file: the seal, the file mark, header length and header.
FILE_OVERHEAD = SEAL_BYTES + 3 + crypto.MAX_FILE_HEADER
# Requests opened by this protocol (sealed to the requester's public key) say so; a request
# stored before it (sealed under the upload link's own key) is refused as gone.
SEALING = "ecdh-p256"
# Marks on the requester's list entry ("q" in the metadata, which the edge writes and reads):
# a request still waiting for its answer, and the answer once it came.
WAITING_MARK, ANSWER_MARK = "waiting", "answer"
# How long an upload may hold a request, at most: longer than any upload may take
# (bot/uploads.py's deadlines), so a process that dies mid-upload frees the mark.
LEASE_SECONDS = 900


class OutsideRequestGone(SecretError):
    """Answered, cancelled, expired or never made: one answer for all, as for secrets."""


class OutsideRequestInUse(SecretError):
    """Another upload with the same link holds the request right now: not over, try again
    in a moment (it is given back if that upload stores nothing)."""


class UnreadableAnswer(SecretError):
    """The answer was spent, but it was not sealed to the requester's key, or not as text
    (a crafted upload): nothing to show."""


@dataclass(frozen=True, slots=True)
class OutsideTicket:
    """What the requester is handed once; the core keeps neither key."""

    request_id: str
    upload_link: str = field(repr=False)  # holds `u` and `Q`: to the requester only, never logged
    answer_key: str = field(repr=False)  # `d`, for the requester's Reveal button only
    expires_at: float = 0.0


@dataclass(frozen=True, slots=True)
class OutsideRequest:
    """A waiting request, as the store keeps it: no key, only hashes of proofs."""

    requester: str  # the identity that may open the answer (and cancel)
    note: str  # declared not secret by the requester: shown on the upload page
    created_at: float
    expires_at: float
    answer_ttl: int
    edge: str  # opaque to the core: where the edge speaks to the requester
    text_verifier: bytes = field(repr=False)
    file_verifier: bytes = field(repr=False)
    auth_verifier: bytes = field(repr=False)
    upload_verifier: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "r": self.requester,
                "n": self.note,
                "c": self.created_at,
                "x": self.expires_at,
                "t": self.answer_ttl,
                "e": self.edge,
                "vt": crypto.b64encode(self.text_verifier),
                "vf": crypto.b64encode(self.file_verifier),
                "va": crypto.b64encode(self.auth_verifier),
                "vu": crypto.b64encode(self.upload_verifier),
                "s": SEALING,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> OutsideRequest:
        if raw is None:
            raise OutsideRequestGone()
        try:
            f = json.loads(raw)
            if f.get("s") != SEALING:
                # Waiting since before answers were sealed to the requester's key: its
                # upload link would seal under a key the link itself holds. Gone.
                raise OutsideRequestGone()
            return cls(
                requester=str(f["r"]),
                note=str(f["n"]),
                created_at=float(f["c"]),
                expires_at=float(f["x"]),
                answer_ttl=int(f["t"]),
                edge=str(f["e"]),
                text_verifier=crypto.b64decode(f["vt"], 32),
                file_verifier=crypto.b64decode(f["vf"], 32),
                auth_verifier=crypto.b64decode(f["va"], 32),
                upload_verifier=crypto.b64decode(f["vu"], 32),
            )
        except (ValueError, KeyError, TypeError):
            raise OutsideRequestGone() from None


@dataclass(frozen=True, slots=True)
class SealedAnswer:
    """What the upload page sends: sealed to `Q` in the browser. Nothing else."""

    version: int
    kind: str  # TEXT or FILE: a text opens in Slack, a file in the requester's browser
    nonce: bytes
    ciphertext: bytes = field(repr=False)  # `E` (the page's ephemeral public key) || AES-GCM


@dataclass(frozen=True, slots=True)
class OutsideLease:
    """A request taken by one upload (`OutsideDesk.take`): answered with it, or given back
    if it stores nothing."""

    request_id: str
    request: OutsideRequest
    raw: bytes = field(repr=False)
    # This lease's own arriving mark: once the request is given back, another upload may
    # take it and set its own, which this lease must never delete. It ends in the upload
    # proof's hash, so only the link's holder hears that the link is in use.
    nonce: bytes = field(default_factory=lambda: os.urandom(16).hex().encode(), repr=False)

    @property
    def mark(self) -> bytes:
        return self.nonce + b"." + crypto.b64encode(self.request.upload_verifier).encode()


@dataclass(frozen=True, slots=True)
class OutsideAnswer:
    """What listeners hear once an answer is stored. No secret material."""

    request_id: str
    requester: str
    note: str
    kind: str
    expires_at: float
    edge: str


AnswerListener = Callable[[OutsideAnswer], Awaitable[None]]


def _key(request_id: str) -> str:
    return f"outside:{request_id}"


def _answered_key(request_id: str) -> str:
    # Which kind the answer is, kept as long as the answer: the Reveal button opens a text
    # in Slack and a file as a link. Holds no secret: the kind is the page's to say.
    return f"outside-answered:{request_id}"


def _arriving_key(request_id: str) -> str:
    # Set while an upload holds the request (between `take` and its answer or give-back).
    return f"outside-arriving:{request_id}"


def list_metadata(note: str, mark: str, edge: str) -> str:
    """The requester's list entry's metadata: the note, the mark, where to speak."""
    fields = {"n": note, "q": mark, "w": edge}
    return json.dumps({k: v for k, v in fields.items() if v}, separators=(",", ":"))


class OutsideDesk:
    """Requests to people outside Slack, reached as `service.outside`."""

    def __init__(
        self,
        store: SecretStore,
        service: SecretService,
        *,
        public_url: str,
        binding_key: bytes,
        max_file_size: int,
        max_text_bytes: int,
    ) -> None:
        self._store = store
        self._service = service
        self._public_url = public_url.rstrip("/")
        self._binding_key = binding_key
        self.max_file_size = max_file_size
        self.max_text_bytes = max_text_bytes
        self._listeners: list[AnswerListener] = []

    @property
    def max_upload(self) -> int:
        """The most ciphertext one answer may carry: a file at the limit, sealed."""
        return self.max_file_size + FILE_OVERHEAD

    def on_answered(self, listener: AnswerListener) -> None:
        """The edge's part once an answer is stored: telling the requester."""
        self._listeners.append(listener)

    async def open(self, *, requester: str, note: str, ttl: int, edge: str = "") -> OutsideTicket:
        """A fresh request: stored, on the requester's list, and on the timetable so the
        requester hears when it expires unanswered. The keys are returned, never kept."""
        if not requester:
            raise ValueError("a request has a requester")
        from bot.service import OUTCOME_KEPT_FOR, Outcome, SecretSummary

        request_id = crypto.new_secret_id()
        upload_key, answer_key = crypto.new_link_key(), crypto.new_answer_key()
        public_key = crypto.answer_public_key(answer_key)
        # Every proof that opens the answer comes from `d`, which the upload link never holds.
        keys = crypto.derive_keys(answer_key, b"", request_id)
        now = self._service.now()
        request = OutsideRequest(
            requester=requester,
            note=note,
            created_at=now,
            expires_at=now + ttl,
            answer_ttl=ttl,
            edge=edge,
            text_verifier=crypto.verifier(
                crypto.derive_holder_proof(answer_key, request_id, requester, self._binding_key)
            ),
            file_verifier=crypto.verifier(crypto.derive_link_proof(answer_key, request_id)),
            auth_verifier=crypto.verifier(keys.auth),
            upload_verifier=crypto.verifier(crypto.derive_upload_proof(upload_key, request_id)),
        )
        # The expiry rides in the value too: the core decides by its own clock.
        await self._store.put(_key(request_id), request.to_bytes(), request.expires_at)
        summary = SecretSummary(
            request_id,
            list_metadata(note, WAITING_MARK, edge),
            now,
            request.expires_at,
            Outcome.WAITING,
        )
        await self._store.keep_entry(
            requester, request_id, summary.to_bytes(), request.expires_at + OUTCOME_KEPT_FOR, now
        )
        await self._store.add_due(f"{request_id} {requester}", request.expires_at)
        log.info("outside request %s opened, expires in %ss", request_id[:6] + "…", ttl)
        fragment = f"{crypto.b64encode(upload_key)}.{crypto.b64encode(public_key)}"
        return OutsideTicket(
            request_id,
            f"{self._public_url}/r/{request_id}#{fragment}",
            crypto.b64encode(answer_key),
            request.expires_at,
        )

    @staticmethod
    def _answer_key(answer_key: str) -> bytes:
        """`d` from the requester's Reveal button; BrokenLink for anything else."""
        try:
            private = crypto.b64decode(answer_key, crypto.KEY_BYTES)
            crypto.answer_public_key(private)
        except ValueError:
            raise BrokenLink() from None
        return private

    async def reveal_text(self, request_id: str, answer_key: str, holder: str) -> str:
        """A text answer, for the identity the edge vouches clicked (as a bound secret):
        revealed once, and opened here, in memory, with `d` for this one answer."""
        private = self._answer_key(answer_key)
        revealed = await self._service.reveal_bound(request_id, private, holder)
        try:
            plaintext = crypto.open_answer(revealed.nonce, revealed.ciphertext, private, request_id)
            return plaintext.decode("utf-8")
        except (InvalidTag, ValueError):
            # Spent all the same: the store handed it out once. UnicodeDecodeError is a
            # ValueError too.
            raise UnreadableAnswer() from None

    def file_link(self, request_id: str, answer_key: str) -> str:
        """A file answer's one-time link, `/s/{id}#{d}.{Q}`: the reveal page proves it with
        `d`'s link proof and opens the answer with ECDH(d, E). WebCrypto imports a private
        key only with its public point, hence `Q` beside `d`."""
        if not crypto.is_secret_id(request_id):
            raise BrokenLink()
        private = self._answer_key(answer_key)
        public = crypto.b64encode(crypto.answer_public_key(private))
        return f"{self._public_url}/s/{request_id}#{answer_key}.{public}"

    async def look(self, request_id: str) -> OutsideRequest:
        """The request while it waits (the upload page): uses nothing up."""
        if not crypto.is_secret_id(request_id):
            raise OutsideRequestGone()
        request = OutsideRequest.from_bytes(
            await self._store.get(_key(request_id), self._service.now())
        )
        if request.expires_at <= self._service.now():
            raise OutsideRequestGone()
        return request

    async def admit(self, request_id: str, upload_proof: bytes) -> OutsideRequest:
        """The waiting request, when `upload_proof` shows the caller holds the upload link
        (checked before an upload's body is read). BrokenLink, and nothing is used up, for
        someone who knows only the id; OutsideRequestGone as `look`."""
        request = await self.look(request_id)
        if not hmac.compare_digest(crypto.verifier(upload_proof), request.upload_verifier):
            raise BrokenLink()
        return request

    def validate(self, answer: SealedAnswer) -> None:
        """Raise InvalidSecret with a sentence the page can show."""
        if answer.version != crypto.VERSION:
            raise InvalidSecret("This page is out of date; reload it.")
        if answer.kind not in (TEXT, FILE):
            raise InvalidSecret("Send a text or one file.")
        if len(answer.ciphertext) <= SEAL_BYTES:
            raise InvalidSecret("The secret is empty.")
        if answer.kind == TEXT and len(answer.ciphertext) > self.max_text_bytes + SEAL_BYTES:
            raise InvalidSecret("The text is too long; send it as a file.")
        if len(answer.ciphertext) > self.max_upload:
            raise InvalidSecret("The file is larger than this app allows.")
        try:
            crypto.check_public_key(answer.ciphertext[: crypto.PUBLIC_KEY_BYTES])
        except ValueError:
            raise InvalidSecret("This page is out of date; reload it.") from None

    async def take(self, request_id: str, upload_proof: bytes) -> OutsideLease:
        """The request, taken in one atomic step for one upload, before its body is read:
        of two uploads (two tabs, a replay) one gets it and the other is told at once,
        unread, that the link is in use (OutsideRequestInUse, to try again). BrokenLink and
        OutsideRequestGone as `admit`.

        While the body arrives the request is marked as being answered, so the requester's
        Reveal and Cancel can tell an answer on its way from a request that is over. An
        upload that stores nothing gives the request back (`give_back`)."""
        try:
            await self.admit(request_id, upload_proof)
            now = self._service.now()
            raw = await self._store.take(_key(request_id), now)
            request = OutsideRequest.from_bytes(raw)
            if raw is None or request.expires_at <= now:
                raise OutsideRequestGone()
        except OutsideRequestGone:
            await self._refuse_if_in_use(request_id, upload_proof)
            raise
        lease = OutsideLease(request_id, request, raw)
        try:
            await self._store.put(
                _arriving_key(request_id), lease.mark, min(request.expires_at, now + LEASE_SECONDS)
            )
        except StoreUnavailable:
            # Taken but not marked: nothing will answer it, so it goes back now (if the
            # store answers again), or the request would be lost for good.
            await self.give_back(lease)
            raise
        return lease

    async def _refuse_if_in_use(self, request_id: str, upload_proof: bytes) -> None:
        """OutsideRequestInUse when another upload with this link's proof holds the request
        and it is not answered yet; nothing for anyone else (they hear it is gone)."""
        if not crypto.is_secret_id(request_id):
            return
        now = self._service.now()
        mark = await self._store.get(_arriving_key(request_id), now)
        if mark is None or await self._store.get(_answered_key(request_id), now) is not None:
            return
        proof_hash = mark.rpartition(b".")[2]
        expected = crypto.b64encode(crypto.verifier(upload_proof)).encode()
        if hmac.compare_digest(proof_hash, expected):
            raise OutsideRequestInUse()

    async def give_back(self, lease: OutsideLease) -> None:
        """An upload that stored nothing (cut off, stalled, malformed): the link works
        again, unless the request expired meanwhile. A store that does not answer is
        logged, not raised: the upload's own refusal is what its sender should hear."""
        try:
            if lease.request.expires_at > self._service.now():
                await self._store.put(_key(lease.request_id), lease.raw, lease.request.expires_at)
        except StoreUnavailable:
            log.warning("store unavailable while giving an outside request back")
        try:
            # Only this lease's mark: once the request is back, another upload may have
            # taken it and marked it as its own (deleting that mark would make a Reveal or
            # Cancel take an answer on its way for a request that is over).
            await self._store.delete_if(_arriving_key(lease.request_id), lease.mark)
        except StoreUnavailable:
            log.warning("store unavailable while clearing an outside request's arriving mark")

    async def answer(self, lease: OutsideLease, answer: SealedAnswer) -> OutsideAnswer:
        """Store the one answer a request gets, as the requester's secret; the lease is
        used up (the caller gives it back if this raises before anything is stored)."""
        self.validate(answer)
        request, request_id = lease.request, lease.request_id
        now = self._service.now()
        if request.expires_at <= now:
            raise OutsideRequestGone()
        text = answer.kind == TEXT
        record = SecretRecord(
            secret_id=request_id,
            version=answer.version,
            nonce=answer.nonce,
            ciphertext=answer.ciphertext,
            # A text is bound to the requester (the store refuses it to every link); a file
            # opens with `d`'s link proof, which the upload link does not hold.
            link_verifier=request.text_verifier if text else request.file_verifier,
            verifier=request.auth_verifier,
            has_passphrase=False,
            created_at=now,
            expires_at=now + request.answer_ttl,
            creator=request.requester,
            metadata=list_metadata(request.note, ANSWER_MARK, request.edge),
            bound=text,
        )
        # Marked answered before the arriving mark goes: a Reveal or Cancel at this moment
        # sees one or the other, never a request that looks over (and a Reveal never
        # replaces the message that holds the keys).
        await self._store.put(_answered_key(request_id), answer.kind.encode(), record.expires_at)
        await self._service.store_sealed(record, track=True)
        await self._store.delete_if(_arriving_key(request_id), lease.mark)
        answered = OutsideAnswer(
            request_id,
            request.requester,
            request.note,
            answer.kind,
            record.expires_at,
            request.edge,
        )
        for listener in self._listeners:
            # After the page's answer: the answer is stored whatever Slack does.
            self._service.spawn(listener(answered))
        return answered

    async def answered_kind(self, request_id: str) -> str:
        """TEXT or FILE once answered; "" while the request still waits (or its answer is
        arriving).
        OutsideRequestGone when cancelled, expired or never made."""
        if not crypto.is_secret_id(request_id):
            raise OutsideRequestGone()
        now = self._service.now()
        kind = await self._store.get(_answered_key(request_id), now)
        if kind is not None:
            return kind.decode()
        if await self._store.get(_arriving_key(request_id), now) is not None:
            return ""  # an upload is arriving: not over, not yet answered
        await self.look(request_id)
        return ""

    async def cancel(self, request_id: str, requester: str) -> None:
        """Withdraw a waiting request: its upload link stops working at once. Only its
        requester may; NotCreator for anyone else, and nothing changes."""
        from bot.service import OUTCOME_KEPT_FOR, Outcome, SecretSummary

        request = await self.look(request_id)
        if not requester or requester != request.requester:
            raise NotCreator()
        OutsideRequest.from_bytes(await self._store.take(_key(request_id), self._service.now()))
        now = self._service.now()
        summary = SecretSummary(
            request_id,
            list_metadata(request.note, WAITING_MARK, request.edge),
            request.created_at,
            request.expires_at,
            Outcome.CANCELLED,
            now,
        )
        await self._store.keep_entry(
            requester, request_id, summary.to_bytes(), now + OUTCOME_KEPT_FOR, now
        )
        log.info("outside request %s cancelled by its requester", request_id[:6] + "…")
