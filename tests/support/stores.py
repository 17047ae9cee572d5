"""A store of each kind on the servers the fixtures start."""

from __future__ import annotations

from storage.redis_store import RedisStore
from storage.sqlite_store import SqliteStore


async def open_test_store(kind: str, request, tmp_path) -> RedisStore | SqliteStore:
    """`kind` is redis, cluster, sentinel or sqlite; the Redis kinds come flushed, from the
    fixtures fresh_redis, fresh_cluster and redis_sentinel."""
    if kind == "redis":
        return RedisStore.from_url(request.getfixturevalue("fresh_redis").url)
    if kind == "cluster":
        return RedisStore.from_url(request.getfixturevalue("fresh_cluster").url)
    if kind == "sentinel":
        return RedisStore.from_url(request.getfixturevalue("redis_sentinel").url)
    return SqliteStore(str(tmp_path / "store.sqlite3"))
