"""Embedded SQLite store: the default when no REDIS_URL is set.

All work runs on one dedicated thread that owns the connection, so the event loop never
blocks on disk. Reveal and burn run inside `BEGIN IMMEDIATE`, which takes the database's
write lock before reading: two processes sharing the file serialise on it, and only one of
them can find and delete a record. `secure_delete` overwrites deleted rows with zeros.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from storage.base import (
    BurnOutcome,
    Listing,
    RevealOutcome,
    RevealResult,
    SecretExists,
    SecretRecord,
    SecretStatus,
    StoreUnavailable,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    link_verifier BLOB NOT NULL,
    verifier BLOB NOT NULL,
    has_passphrase INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    creator TEXT NOT NULL,
    metadata TEXT NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    bound INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS secrets_expires_at ON secrets (expires_at);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL
);
CREATE TABLE IF NOT EXISTS entries (
    owner TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    value BLOB NOT NULL,
    keep_until REAL NOT NULL,
    PRIMARY KEY (owner, entry_id)
);
CREATE TABLE IF NOT EXISTS timetable (
    item TEXT PRIMARY KEY,
    due REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS timetable_due ON timetable (due);
CREATE TABLE IF NOT EXISTS rate_hits (
    key TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    count INTEGER NOT NULL
);
"""
_COLUMNS = (
    "id, version, nonce, ciphertext, link_verifier, verifier, has_passphrase, "
    "created_at, expires_at, creator, metadata, bound"
)
# What an expired row of the same id takes from the new one (its failures start again).
_REPLACE_EXPIRED = (
    ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS.split(", ") if name != "id")
    + ", failed = 0"
)


class _Exists(Exception):
    """Raised inside the transaction so a listing written with the record rolls back."""


# A row that starts with _COLUMNS, as sqlite3 returns it (flags as 0 or 1); a query may
# select more after them (the reveal adds `failed`).
_SecretRow = tuple[
    str, int, bytes, bytes, bytes, bytes, int, float, float, str, str, int, *tuple[int, ...]
]


class SqliteStore:
    """One file, any number of processes on one machine."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oncelink-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                self._conn = self._connect()
            return work(self._conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite failed: {type(exc).__name__}") from exc

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so the lock is taken up front.
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: each commit (a save, and a reveal's or burn's delete) is on disk before the
        # step answers, so neither an acknowledged secret nor a revealed one's absence is
        # undone by a power loss.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")
        conn.executescript(_SCHEMA)
        _add_bound_column(conn)
        return conn

    async def open(self) -> None:
        """Create the file and schema now, so a bad SQLITE_PATH fails at start-up."""
        await self._run(lambda conn: None)

    async def save(self, record: SecretRecord, listing: Listing | None = None) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if listing is not None:
                with _immediate(conn):
                    insert(conn)
                    _keep_listed(conn, listing)
            else:
                insert(conn)

        def insert(conn: sqlite3.Connection) -> None:
            # One statement: a row of the same id is replaced only when it has expired (the
            # sweep may not have purged it yet); a living one is never touched.
            cursor = conn.execute(
                f"INSERT INTO secrets ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "  # noqa: S608
                f"ON CONFLICT (id) DO UPDATE SET {_REPLACE_EXPIRED} "
                "WHERE secrets.expires_at <= excluded.created_at",
                (
                    record.secret_id,
                    record.version,
                    record.nonce,
                    record.ciphertext,
                    record.link_verifier,
                    record.verifier,
                    int(record.has_passphrase),
                    record.created_at,
                    record.expires_at,
                    record.creator,
                    record.metadata,
                    int(record.bound),
                ),
            )
            if cursor.rowcount != 1:
                raise _Exists()

        try:
            await self._run(work)
        except _Exists:
            raise SecretExists(record.secret_id) from None

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
        def work(conn: sqlite3.Connection) -> RevealResult:
            with _immediate(conn):
                row = conn.execute(
                    f"SELECT {_COLUMNS}, failed FROM secrets WHERE id = ? AND expires_at > ?",  # noqa: S608
                    (secret_id, now),
                ).fetchone()
                if row is None:
                    return RevealResult(RevealOutcome.GONE)
                if (row[11] and not bound_allowed) or row[4] != link_verifier:
                    return RevealResult(RevealOutcome.BROKEN_LINK)
                if row[5] == verifier:
                    conn.execute("DELETE FROM secrets WHERE id = ?", (secret_id,))
                    result = RevealResult(RevealOutcome.REVEALED, record=_record(row))
                else:
                    attempts_left = max_attempts - (row[12] + 1)
                    if attempts_left > 0:
                        conn.execute(
                            "UPDATE secrets SET failed = failed + 1 WHERE id = ?", (secret_id,)
                        )
                        return RevealResult(
                            RevealOutcome.WRONG_PASSPHRASE, attempts_left=attempts_left
                        )
                    conn.execute("DELETE FROM secrets WHERE id = ?", (secret_id,))
                    result = RevealResult(RevealOutcome.GONE)
            _forget_deleted(conn)
            return result

        return await self._run(work)

    async def burn(self, secret_id: str, creator: str, now: float) -> BurnOutcome:
        def work(conn: sqlite3.Connection) -> BurnOutcome:
            with _immediate(conn):
                row = conn.execute(
                    "SELECT creator FROM secrets WHERE id = ? AND expires_at > ?",
                    (secret_id, now),
                ).fetchone()
                if row is None:
                    return BurnOutcome.GONE
                if row[0] != creator:
                    return BurnOutcome.NOT_CREATOR
                conn.execute("DELETE FROM secrets WHERE id = ?", (secret_id,))
            _forget_deleted(conn)
            return BurnOutcome.BURNED

        return await self._run(work)

    async def status(self, secret_id: str, now: float, *, max_attempts: int) -> SecretStatus | None:
        def work(conn: sqlite3.Connection) -> SecretStatus | None:
            row = conn.execute(
                "SELECT has_passphrase, expires_at, failed FROM secrets "
                "WHERE id = ? AND expires_at > ?",
                (secret_id, now),
            ).fetchone()
            if row is None:
                return None
            return SecretStatus(
                has_passphrase=bool(row[0]),
                expires_at=row[1],
                attempts_left=max_attempts - row[2],
            )

        return await self._run(work)

    async def count_hit(self, key: str, window: int, now: float) -> int:
        slot = int(now // window)

        def work(conn: sqlite3.Connection) -> int:
            row: tuple[int] = conn.execute(
                "INSERT INTO rate_hits (key, expires_at, count) VALUES (?, ?, 1) "
                "ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count",
                (f"{key}:{slot}", (slot + 1) * window),
            ).fetchone()
            return row[0]

        return await self._run(work)

    async def put(self, key: str, value: bytes, expires_at: float | None = None) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                (key, value, expires_at),
            )
        )

    async def get(self, key: str, now: float) -> bytes | None:
        def work(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, now),
            ).fetchone()
            return row[0] if row else None

        return await self._run(work)

    async def take(self, key: str, now: float) -> bytes | None:
        def work(conn: sqlite3.Connection) -> bytes | None:
            with _immediate(conn):
                row = conn.execute(
                    "DELETE FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?) "
                    "RETURNING value",
                    (key, now),
                ).fetchone()
            return row[0] if row else None

        return await self._run(work)

    async def delete(self, key: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            _forget_deleted(conn)

        await self._run(work)

    async def delete_if(self, key: str, value: bytes) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute("DELETE FROM kv WHERE key = ? AND value = ?", (key, value))
            return deleted.rowcount > 0

        return await self._run(work)

    async def keep_entry(
        self, owner: str, entry_id: str, value: bytes, keep_until: float, now: float
    ) -> None:
        await self._run(lambda conn: _keep_entry(conn, owner, entry_id, value, keep_until))

    async def entries(self, owner: str, now: float) -> dict[str, bytes]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT entry_id, value FROM entries WHERE owner = ? AND keep_until > ?",
                (owner, now),
            ).fetchall()
        )
        return {entry_id: value for entry_id, value in rows}

    async def add_due(self, item: str, due: float) -> None:
        await self._run(lambda conn: _add_due(conn, item, due))

    async def claim_due(self, now: float, limit: int = 100) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            with _immediate(conn):
                rows = conn.execute(
                    "DELETE FROM timetable WHERE item IN (SELECT item FROM timetable "
                    "WHERE due <= ? ORDER BY due LIMIT ?) RETURNING item",
                    (now, limit),
                ).fetchall()
            return [row[0] for row in rows]

        return await self._run(work)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def purge_expired(self, now: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM rate_hits WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM kv WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM entries WHERE keep_until <= ?", (now,))
            removed = conn.execute("DELETE FROM secrets WHERE expires_at <= ?", (now,)).rowcount
            if removed:
                _forget_deleted(conn)
            return removed

        return await self._run(work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def work() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, work)
        self._executor.shutdown(wait=True)


def _keep_entry(
    conn: sqlite3.Connection, owner: str, entry_id: str, value: bytes, keep_until: float
) -> None:
    conn.execute(
        "INSERT INTO entries (owner, entry_id, value, keep_until) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (owner, entry_id) DO UPDATE SET value = excluded.value, "
        "keep_until = excluded.keep_until",
        (owner, entry_id, value, keep_until),
    )


def _keep_listed(conn: sqlite3.Connection, listing: Listing) -> None:
    _keep_entry(conn, listing.owner, listing.entry_id, listing.entry, listing.keep_until)
    _add_due(conn, listing.due_item, listing.due)


def _add_due(conn: sqlite3.Connection, item: str, due: float) -> None:
    conn.execute(
        "INSERT INTO timetable (item, due) VALUES (?, ?) "
        "ON CONFLICT (item) DO UPDATE SET due = excluded.due",
        (item, due),
    )


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock before reading: check-then-delete is atomic
    across threads and processes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _add_bound_column(conn: sqlite3.Connection) -> None:
    """A file made before records could be bound lacks the column: add it, under the write
    lock so two processes opening the file at once add it once. Rows stored before read as
    not bound, as they were (docs/SECURITY.md says what that means)."""

    def has_it() -> bool:
        return any(row[1] == "bound" for row in conn.execute("PRAGMA table_info(secrets)"))

    if has_it():
        return
    with _immediate(conn):
        if not has_it():
            conn.execute("ALTER TABLE secrets ADD COLUMN bound INTEGER NOT NULL DEFAULT 0")


def _forget_deleted(conn: sqlite3.Connection) -> None:
    """After a delete, copy the zeroed pages (secure_delete) into the database and empty the
    WAL, whose older frames still hold the ciphertext. If another process is reading, the
    checkpoint stops short and the next one finishes the job."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()


def _record(row: _SecretRow) -> SecretRecord:
    return SecretRecord(
        secret_id=row[0],
        version=row[1],
        nonce=row[2],
        ciphertext=row[3],
        link_verifier=row[4],
        verifier=row[5],
        has_passphrase=bool(row[6]),
        created_at=row[7],
        expires_at=row[8],
        creator=row[9],
        metadata=row[10],
        bound=bool(row[11]),
    )
