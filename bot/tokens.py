"""Personal API tokens: a person's standing permission to store secrets sealed elsewhere
(their own terminal), under their identity, through `POST /api/v1/secrets`.

The rules live here, not in an edge: a token is `olk_` and 256 random bits; it is shown
once, when made, and the store keeps only its SHA-256 (a copy of the store opens nothing);
one identity holds at most one token, and a new one replaces the old; a scope (the edge's
word for a workspace) can have tokens turned off, which refuses every token of that scope
at once, and can have them all forgotten (the app uninstalled). Identities and scopes are
opaque strings the edge chooses.

What a token uploads is what a compose page uploads (bot/compose.py): ciphertext and
verifiers made with protocol v1 on the person's machine. The server never holds the
plaintext or the link key, unless the person asks the app to pass the link on (`--to`),
which sends the whole link through the edge (Slack), and the CLI says so.

The secret's id is derived from the token and a random seed the client picks: the client
needs the id before sealing (it is in the sealed message's context), and deriving it means
an upload can never name, and so overwrite, a secret somebody else made.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import crypto
from bot.compose import SealedUpload
from bot.errors import InvalidSecret, SecretError, SecretGone
from storage.base import SecretExists
from storage.interfaces import KeyValues

if TYPE_CHECKING:
    from bot.service import CreatedSecret, SecretService

log = logging.getLogger(__name__)

TOKEN_PREFIX = "olk_"
TOKEN_BYTES = 32  # 256 random bits: beyond guessing, so no per-address guessing limit
SEED_BYTES = 16
NOTE_MAX = 150  # a label the creator's list shows; declared not secret
RECIPIENT_MAX = 254  # an email address at its longest
KINDS = ("text", "file")
SEED_USED = "A secret with this seed exists already; use a new seed."


class Unauthorized(SecretError):
    """No such token: malformed, made up, revoked, replaced, turned off or uninstalled.
    One answer for all, so a caller learns nothing about which."""


class TokensOff(SecretError):
    """The scope's admins turned personal tokens off."""


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """Whom a token stands for. All opaque to the core but `creator`, `scope` and `org`."""

    creator: str  # the identity its secrets belong to (their list, Burn, receipts)
    scope: str  # what admins turn tokens off for, and what an uninstall forgets
    edge: str = ""  # what the edge needs to speak back (pass the link on, describe)
    org: str = ""  # a wider scope an uninstall may name instead (an org-wide install)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"c": self.creator, "s": self.scope, "e": self.edge, "o": self.org},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> TokenGrant:
        fields = json.loads(raw)
        return cls(
            str(fields["c"]), str(fields["s"]), str(fields.get("e", "")), str(fields.get("o", ""))
        )

    @property
    def scopes(self) -> tuple[str, ...]:
        return (self.scope, self.org) if self.org else (self.scope,)


@dataclass(frozen=True, slots=True)
class ApiUpload:
    """What `POST /api/v1/secrets` carries beside the sealed values."""

    sealed: SealedUpload
    seed: bytes
    kind: str = "text"
    note: str = ""
    recipient: str = ""  # the edge's to resolve (a Slack member id or an email)
    # With a recipient: the link's key alone, from which the server builds the link it
    # passes on with its own PUBLIC_URL, so a client can never make the app post its words.
    pass_on_key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class TokenSecret:
    """What listeners hear once a secret made with a token is stored: the link only when
    the creator asked for it to be passed on."""

    secret_id: str
    grant: TokenGrant
    expires_at: float
    note: str
    recipient: str
    pass_on_link: str = field(default="", repr=False)


TokenListener = Callable[[TokenSecret], Awaitable[None]]
# The longest expiry the grant's scope allows (its admins may narrow the app's MAX_TTL).
LongestExpiry = Callable[[TokenGrant], Awaitable[int]]
# The edge's description stored beside a secret (what its list shows), from the grant,
# the note and the recipient: opaque to the core.
Describer = Callable[[TokenGrant, str, str], str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def is_token(text: str) -> bool:
    """Whether `text` has a token's form: checked before the store is asked."""
    if not text.startswith(TOKEN_PREFIX):
        return False
    try:
        crypto.b64decode(text[len(TOKEN_PREFIX) :], TOKEN_BYTES)
    except ValueError:
        return False
    return True


def secret_id_for(token: str, seed: bytes) -> str:
    """The id a token's upload with `seed` makes: the client computes it to seal, the
    server to store. Nobody without the token can make it collide with a given id."""
    digest = hashlib.sha256(b"oncelink/v1/api-id/" + token.encode("ascii") + b"/" + seed).digest()
    return crypto.b64encode(digest[: crypto.ID_BYTES])


def _token_key(digest: str) -> str:
    return "token:" + digest


def _holder_key(creator: str) -> str:
    return "token-of:" + hashlib.sha256(creator.encode()).hexdigest()


def _scope_key(scope: str) -> str:
    return "tokens-in:" + hashlib.sha256(scope.encode()).hexdigest()


def _off_key(scope: str) -> str:
    return "tokens-off:" + hashlib.sha256(scope.encode()).hexdigest()


def _epoch_key(scope: str) -> str:
    return "tokens-epoch:" + hashlib.sha256(scope.encode()).hexdigest()


class TokenDesk:
    """Personal tokens and the uploads they allow, reached as `service.tokens`."""

    def __init__(self, store: KeyValues, service: SecretService) -> None:
        self._store = store
        self._service = service
        self._listeners: list[TokenListener] = []
        self._describe: Describer = lambda grant, note, recipient: ""
        self._longest: LongestExpiry | None = None

    def on_created(self, listener: TokenListener) -> None:
        """The edge's part after the secret is stored (passing the link on)."""
        self._listeners.append(listener)

    def describe_with(self, describer: Describer) -> None:
        """How the edge labels a token's secret on its creator's list."""
        self._describe = describer

    def limit_expiry_with(self, longest: LongestExpiry) -> None:
        """How the edge narrows the expiry for a grant's scope, as it does for its own."""
        self._longest = longest

    async def longest_expiry(self, grant: TokenGrant) -> int:
        longest = self._service.max_ttl
        if self._longest is not None:
            longest = min(longest, await self._longest(grant))
        return longest

    async def enabled(self, scope: str) -> bool:
        return await self._store.get(_off_key(scope), self._service.now()) is None

    async def set_enabled(self, scope: str, enabled: bool) -> None:
        """Turning tokens off refuses every token of the scope from the next request on,
        and no new one is made; turning them back on revives tokens not revoked since."""
        if enabled:
            await self._store.delete(_off_key(scope))
        else:
            await self._store.put(_off_key(scope), b"1")
        log.info("personal tokens turned %s for a scope", "on" if enabled else "off")

    async def issue(self, grant: TokenGrant) -> str:
        """A new token for `grant.creator`, replacing theirs if they had one. The only
        copy: the caller shows it once and keeps nothing."""
        if not await self.enabled(grant.scope):
            raise TokensOff()
        token = TOKEN_PREFIX + crypto.b64encode(crypto.new_link_key())
        digest = token_hash(token)
        epochs = await self._epochs(grant)
        await self._store.put(_token_key(digest), epochs + b"\n" + grant.to_bytes())
        old = await self._store.get(_holder_key(grant.creator), self._service.now())
        await self._store.put(_holder_key(grant.creator), digest.encode())
        if old and old.decode() != digest:
            await self._store.delete(_token_key(old.decode()))
        for scope in grant.scopes:
            await self._remember_holder(scope, grant.creator)
        log.info("personal token issued (an earlier one replaced: %s)", bool(old))
        return token

    async def revoke(self, creator: str) -> bool:
        """Remove `creator`'s token; whether there was one."""
        old = await self._store.take(_holder_key(creator), self._service.now())
        if old is None:
            return False
        await self._store.delete(_token_key(old.decode()))
        log.info("personal token revoked")
        return True

    async def revoke_if_current(self, token: str) -> bool:
        """Remove `token` (one just issued that nobody saw), never another: if its person
        asked again meanwhile, the newer token, the one they were shown, keeps working.
        Whether `token` was still there to remove."""
        digest = token_hash(token)
        now = self._service.now()
        raw = await self._store.take(_token_key(digest), now)
        if raw is None:  # already replaced (and deleted) by a newer one
            return False
        creator = TokenGrant.from_bytes(raw.partition(b"\n")[2]).creator
        if await self._store.get(_holder_key(creator), now) == digest.encode():
            taken = await self._store.take(_holder_key(creator), now)
            if taken is not None and taken != digest.encode():
                # a newer token arrived between the two reads: its pointer goes back
                await self._store.put(_holder_key(creator), taken)
        log.info("an unseen personal token revoked")
        return True

    async def _remember_holder(self, scope: str, creator: str) -> None:
        """The scope's holders, so an uninstall can delete their tokens. Two tokens made
        at the same instant may race here and one holder be missed: the scope's epoch
        (`forget_scope` moves it) refuses such a token all the same."""
        now = self._service.now()
        raw = await self._store.get(_scope_key(scope), now)
        holders: list[str] = json.loads(raw) if raw else []
        if creator not in holders:
            holders.append(creator)
            await self._store.put(_scope_key(scope), json.dumps(holders).encode())

    async def _epochs(self, grant: TokenGrant) -> bytes:
        now = self._service.now()
        found = [await self._store.get(_epoch_key(scope), now) or b"0" for scope in grant.scopes]
        return b" ".join(found)

    async def close_scope(self, scope: str) -> None:
        """From now on no token of `scope` made before works, listed or not: one write (a
        new epoch), cheap enough to do before answering the edge; `forget_scope` then
        deletes the tokens themselves."""
        await self._store.put(_epoch_key(scope), crypto.b64encode(crypto.new_link_key()).encode())

    async def forget_scope(self, scope: str) -> int:
        """Delete every token of `scope` (the app was uninstalled there). A new epoch
        first: from then on no token made before refuses to work, listed or not."""
        await self.close_scope(scope)
        raw = await self._store.take(_scope_key(scope), self._service.now())
        holders: list[str] = json.loads(raw) if raw else []
        forgotten = 0
        for creator in holders:
            forgotten += await self.revoke(creator)
        log.info("%d personal tokens deleted with an uninstall", forgotten)
        return forgotten

    async def authenticate(self, token: str) -> TokenGrant:
        """The grant a token stands for, or Unauthorized."""
        if not is_token(token):
            raise Unauthorized()
        raw = await self._store.get(_token_key(token_hash(token)), self._service.now())
        if raw is None:
            raise Unauthorized()
        epoch, _, stored = raw.partition(b"\n")
        grant = TokenGrant.from_bytes(stored)
        # Only the token its person holds now: of two made at the same instant (two
        # clicks, two processes), the one replaced never works, even if its record stayed.
        holder = await self._store.get(_holder_key(grant.creator), self._service.now())
        if holder != token_hash(token).encode():
            raise Unauthorized()
        if epoch != await self._epochs(grant) or not await self.enabled(grant.scope):
            raise Unauthorized()
        return grant

    def validate(self, upload: ApiUpload, max_ttl: int) -> None:
        """Raise InvalidSecret with a sentence the CLI shows."""
        sealed = upload.sealed
        if sealed.version != crypto.VERSION:
            raise InvalidSecret("This client speaks another protocol version; update it.")
        if not 0 < sealed.ttl <= max_ttl:
            raise InvalidSecret("That expiry is longer than this app allows.")
        if upload.kind not in KINDS:
            raise InvalidSecret("kind is text or file.")
        if not sealed.ciphertext:
            raise InvalidSecret("The secret is empty.")
        if len(upload.seed) != SEED_BYTES:
            raise InvalidSecret("seed is 16 bytes.")
        if len(upload.note) > NOTE_MAX:
            raise InvalidSecret(f"The note is too long (at most {NOTE_MAX} characters).")
        if len(upload.recipient) > RECIPIENT_MAX:
            raise InvalidSecret("That recipient is not a member id or an email address.")
        if (sealed.pass_on_link or upload.pass_on_key) and not upload.recipient:
            raise InvalidSecret("Nobody was named to send the link to.")

    def max_upload(self, kind: str) -> int:
        """The most ciphertext an upload of `kind` may carry: the same limits as Slack's
        secrets and compose pages'."""
        from bot.service import MAX_SECRET_BYTES

        return self._service.compose.max_upload if kind == "file" else MAX_SECRET_BYTES + 16

    def pass_on_link(self, secret_id: str, upload: ApiUpload) -> str:
        """The link the app may DM for this upload: built here from the key alone, or, when
        the client sent a whole link, only exactly this app's link to this secret. The app
        posts it in Slack in its own name, so a `|` or `>` riding along would give the link
        any label and the message any words."""
        link = upload.sealed.pass_on_link
        if upload.pass_on_key:
            try:
                key = crypto.b64decode(upload.pass_on_key, crypto.KEY_BYTES)
            except ValueError:
                raise InvalidSecret("pass_on_key is the link's key, base64url.") from None
            link = self._service.link_for(secret_id, key)
        if link and not self._service.compose.is_link_of(link, secret_id):
            raise InvalidSecret("That is not this secret's link.")
        return link

    async def create(self, grant: TokenGrant, token: str, upload: ApiUpload) -> CreatedSecret:
        """Store the sealed secret as the grant's creator's, on their list."""
        secret_id = secret_id_for(token, upload.seed)
        sealed = upload.sealed
        pass_on_link = self.pass_on_link(secret_id, upload)
        try:
            await self._service.status(secret_id)
        except SecretGone:
            pass
        else:  # the same seed twice: the first secret stays as its link promised
            raise InvalidSecret(SEED_USED)
        record = sealed.record(
            secret_id,
            self._service.now(),
            grant.creator,
            self._describe(grant, upload.note, upload.recipient),
        )
        try:
            created = await self._service.store_sealed(record, track=True)
        except SecretExists:  # the same seed twice at once: the store let one win
            raise InvalidSecret(SEED_USED) from None
        made = TokenSecret(
            secret_id,
            grant,
            record.expires_at,
            upload.note,
            upload.recipient,
            pass_on_link,
        )
        for listener in self._listeners:
            self._service.spawn(listener(made))
        return created
