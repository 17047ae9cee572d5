"""What a store does, cut by job: one Protocol per job, so each caller depends on the one it
uses and a reader sees what that is.

Both stores implement every Protocol here; `SecretStore` is all of them at once, what
`make_store` returns and what the composition root hands out. A store takes the time
from its caller (`now`, unix seconds) wherever an answer depends on it, reads no clock
itself, and is told policy (the attempt limit) rather than owning it."""

from __future__ import annotations

from typing import Protocol

from storage.base import BurnOutcome, Listing, RevealResult, SecretRecord, SecretStatus


class SecretRecords(Protocol):
    """The secrets themselves: kept until revealed, burned or expired, handed out once."""

    async def save(self, record: SecretRecord, listing: Listing | None = None) -> None:
        """Store a new record that expires by itself at `record.expires_at`, and its listing
        if given (one round trip where the store allows): the entry on the owner's list and
        the item on the timetable. Never replaces a record kept under the same id, even
        when two saves race: SecretExists, and nothing changed."""

    async def reveal(
        self,
        secret_id: str,
        link_verifier: bytes,
        verifier: bytes,
        now: float,
        *,
        max_attempts: int,
        bound_allowed: bool = False,
    ) -> RevealResult:
        """Atomically: a record that expired by `now` -> GONE; a bound record unless
        `bound_allowed`, or a wrong link -> BROKEN_LINK (nothing counted); wrong verifier ->
        count a failed attempt, delete at the `max_attempts`-th (the core's policy); match
        -> delete and return the record. Only one caller can ever get REVEALED for a record.

        `bound_allowed` says the caller reveals for the person a record may be bound to (the
        Slack Reveal button); a link reveal leaves it False. Every change is made as durable as
        a save before the answer (docs/SECURITY.md says how durable that is, per store)."""

    async def burn(self, secret_id: str, creator: str, now: float) -> BurnOutcome:
        """Delete the record if `creator` matches the stored creator (as durably as a save);
        GONE if it expired by `now`."""

    async def status(self, secret_id: str, now: float, *, max_attempts: int) -> SecretStatus | None:
        """What the reveal page needs to know; None if gone or expired by `now`. Never
        changes anything. `attempts_left` counts down from `max_attempts`."""

    async def purge_expired(self, now: float) -> int:
        """Remove what expired by `now` (a no-op where the store expires keys itself)."""


class Counters(Protocol):
    """Rate counters shared by every process, so limits hold across them."""

    async def count_hit(self, key: str, window: int, now: float) -> int:
        """Count one hit in the fixed window of `window` seconds containing `now` and return
        the window's total so far."""


class KeyValues(Protocol):
    """Small values under a key: Slack installations, OAuth states, workspace settings,
    pending secret requests."""

    async def put(self, key: str, value: bytes, expires_at: float | None = None) -> None:
        """Store `value` under `key`, replacing what was there; gone at `expires_at` if
        given."""

    async def get(self, key: str, now: float) -> bytes | None:
        """The value, unless it expired by `now`.

        On Redis `now` is only a bound: the key carries `expires_at` as its own expiry and
        Redis drops it then, by its clock. SQLite keeps the expiry beside the value and
        compares it with `now`. Record reveals, which must agree exactly, compare with the
        caller's `now` on both (`SecretRecords`)."""

    async def take(self, key: str, now: float) -> bytes | None:
        """Get (as `get`) and delete in one atomic step: only one caller ever gets the
        value."""

    async def delete(self, key: str) -> None: ...

    async def delete_if(self, key: str, value: bytes) -> bool:
        """Delete `key` only while it holds exactly `value`, in one atomic step; True when
        it was deleted. A mark that another holder has since replaced is left alone."""


class OwnerLists(Protocol):
    """Each creator's list of their secrets (what `/secret list` shows). Never holds secret
    material."""

    async def keep_entry(
        self, owner: str, entry_id: str, value: bytes, keep_until: float, now: float
    ) -> None:
        """Add or replace one entry in an owner's list; it disappears by itself after
        `keep_until` (Redis keeps the list `keep_until - now` more seconds)."""

    async def entries(self, owner: str, now: float) -> dict[str, bytes]:
        """The owner's entries still kept at `now`, by entry id."""


class Timetable(Protocol):
    """Items due at a time, shared by every process (expiry receipts). An item about a
    secret goes on it only with the secret, in the same step (`SecretRecords.save` with a
    listing): a receipt can never be due for a secret that was not stored. Other items
    (a request waiting for its answer) go on with `add_due`, after what they are about."""

    async def add_due(self, item: str, due: float) -> None:
        """Put `item` on the timetable at `due`, or move it there if it is on already."""

    async def claim_due(self, now: float, limit: int = 100) -> list[str]:
        """Remove and return items due by `now`. Across every process, each item is returned
        to exactly one caller, so each expiry receipt goes out once."""


class SecretStore(SecretRecords, Counters, KeyValues, OwnerLists, Timetable, Protocol):
    """One store doing every job: what `make_store` returns. Its life (ping, close) belongs
    to the whole store, not to any one job."""

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    async def close(self) -> None: ...
