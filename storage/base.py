"""The one small interface every store implements, and the values it trades in.

A store knows records, expiry and atomicity. It does not know crypto policy: it is handed
verifier hashes, compares them with what it holds and deletes, all in one atomic step so
that "exactly once" holds across processes and races.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Protocol

MAX_PASSPHRASE_ATTEMPTS = 5


class StoreUnavailable(Exception):
    """The store did not answer; nothing was changed that the caller can rely on."""


class SecretRecord(NamedTuple):
    """Everything kept about one secret. No key, no passphrase, no plaintext.

    This and the other values a reveal or a page view passes along are named tuples:
    immutable like a frozen dataclass, and built at 40% of its cost (each reveal builds
    four, measured with callgrind: 22k instructions for this one as a frozen dataclass).
    """

    secret_id: str
    version: int
    nonce: bytes
    ciphertext: bytes
    link_verifier: bytes
    verifier: bytes
    has_passphrase: bool
    created_at: float
    expires_at: float
    creator: str = ""
    metadata: str = ""  # opaque to the store (JSON from the edge that created it)
    # Bound to one person: revealed only through their own channel (`bound_allowed`), never
    # through a link, whatever proof comes with it.
    bound: bool = False


@dataclass(frozen=True, slots=True)
class Listing:
    """Where a new secret is also written, in the same step as the secret: its creator's
    list (`keep_entry`) and the shared timetable (`schedule`)."""

    owner: str
    entry_id: str
    entry: bytes
    keep_until: float
    due_item: str
    due: float


class SecretStatus(NamedTuple):
    has_passphrase: bool
    expires_at: float
    attempts_left: int


class RevealOutcome(enum.Enum):
    REVEALED = "revealed"
    GONE = "gone"
    BROKEN_LINK = "broken_link"
    WRONG_PASSPHRASE = "wrong_passphrase"


class RevealResult(NamedTuple):
    outcome: RevealOutcome
    attempts_left: int = 0
    record: SecretRecord | None = None  # only for REVEALED: already deleted from the store


class BurnOutcome(enum.Enum):
    BURNED = "burned"
    GONE = "gone"
    NOT_CREATOR = "not_creator"


class SecretStore(Protocol):
    async def save(self, record: SecretRecord, listing: Listing | None = None) -> None:
        """Store a new record that expires by itself at `record.expires_at`, and its listing
        if given (one round trip where the store allows)."""

    async def reveal(
        self,
        secret_id: str,
        link_verifier: bytes,
        verifier: bytes,
        now: float,
        *,
        bound_allowed: bool = False,
    ) -> RevealResult:
        """Atomically: a bound record unless `bound_allowed`, or a wrong link -> BROKEN_LINK
        (nothing counted); wrong verifier -> count a failed attempt, delete at the
        MAX_PASSPHRASE_ATTEMPTS-th; match -> delete and return the record. Only one caller
        can ever get REVEALED for a record.

        `bound_allowed` says the caller reveals for the person a record may be bound to (the
        Slack Reveal button); a link reveal leaves it False. Every change is made as durable as
        a save before the answer (docs/SECURITY.md says how durable that is, per store)."""

    async def burn(self, secret_id: str, creator: str, now: float) -> BurnOutcome:
        """Delete the record if `creator` matches the stored creator (as durably as a save)."""

    async def status(self, secret_id: str, now: float) -> SecretStatus | None:
        """What the reveal page needs to know; never changes anything."""

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    async def count_hit(self, key: str, window: int, now: float) -> int:
        """Count one hit in the fixed window of `window` seconds containing `now` and return
        the window's total so far. Shared by every process, so limits hold across them."""

    async def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """A small value under a key (Slack installations, OAuth states), optionally expiring."""

    async def get(self, key: str) -> bytes | None: ...

    async def take(self, key: str) -> bytes | None:
        """Get and delete in one atomic step: only one caller ever gets the value."""

    async def delete(self, key: str) -> None: ...

    async def keep_entry(self, owner: str, entry_id: str, value: bytes, keep_until: float) -> None:
        """Add or replace one entry in an owner's list (what `/secret list` shows them); it
        disappears by itself after `keep_until`. Never holds secret material."""

    async def entries(self, owner: str, now: float) -> dict[str, bytes]:
        """The owner's entries that are still kept, by entry id."""

    async def schedule(self, item: str, due: float) -> None:
        """Put an item on the timetable all processes share (expiry receipts)."""

    async def claim_due(self, now: float, limit: int = 100) -> list[str]:
        """Remove and return items due by `now`. Across every process, each item is returned
        to exactly one caller, so each expiry receipt goes out once."""

    async def purge_expired(self, now: float) -> int:
        """Remove expired records (a no-op where the store expires them itself)."""

    async def close(self) -> None: ...
