"""Persistence behind narrow interfaces, one per job: Redis for many processes, SQLite embedded."""

from __future__ import annotations

from storage.base import StoreUnavailable
from storage.interfaces import SecretStore


def make_store(redis_url: str | None, sqlite_path: str) -> SecretStore:
    """Redis when a URL is given, else the embedded SQLite file. Connects lazily."""
    if redis_url:
        from storage.redis_store import RedisStore

        return RedisStore.from_url(redis_url)
    from storage.sqlite_store import SqliteStore

    return SqliteStore(sqlite_path)


__all__ = ["SecretStore", "StoreUnavailable", "make_store"]
