"""A copy of the store reveals nothing: no plaintext, no key, no passphrase, no proof."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bot import crypto
from storage.redis_store import RedisStore
from storage.sqlite_store import SqliteStore
from tests.conftest import make_settings, serve
from tests.support import parse_link, reveal_body

PLAINTEXT = "AT-REST-CANARY-4f1d 🔑 correct-battery"
PASSPHRASE = "PASSPHRASE-CANARY-77"


def forbidden(link: str, passphrase: str | None) -> list[bytes]:
    """Every form of secret material that must never be found at rest."""
    parts = parse_link(link)
    pass_key = crypto.passphrase_key(passphrase, parts.secret_id)
    keys = crypto.derive_keys(parts.link_key, pass_key, parts.secret_id)
    proof = crypto.derive_link_proof(parts.link_key, parts.secret_id)
    raw = [parts.link_key, keys.enc_key, keys.auth, proof]
    if pass_key:
        raw.append(pass_key)
    found = [PLAINTEXT.encode(), PLAINTEXT.encode("utf-16-le"), link.encode()]
    found += raw + [crypto.b64encode(value).encode() for value in raw]
    found += [value.hex().encode() for value in raw]
    if passphrase:
        found.append(passphrase.encode())
    return found


async def make_secrets(served) -> list[tuple[str, str | None]]:
    made = []
    for passphrase in (None, PASSPHRASE):
        for _ in range(3):
            created = await served.service.create(
                PLAINTEXT, ttl=600, passphrase=passphrase, creator="T1:U1"
            )
            made.append((created.link, passphrase))
    return made


def assert_clean(blob: bytes, made: list[tuple[str, str | None]]) -> None:
    for link, passphrase in made:
        for needle in forbidden(link, passphrase):
            assert needle not in blob, f"found secret material: {needle[:12]!r}"


async def dump_redis(url: str) -> bytes:
    client = Redis.from_url(url)
    try:
        chunks = []
        async for key in client.scan_iter("*"):
            chunks.append(key)
            for field, value in (await client.hgetall(key)).items():
                chunks += [field, value]
            chunks.append(await client.dump(key) or b"")
        return b"\n".join(chunks)
    finally:
        await client.aclose()


async def test_redis_holds_no_plaintext_key_or_passphrase(fresh_redis):
    served = await serve(make_settings(), store=RedisStore.from_url(fresh_redis.url))
    try:
        made = await make_secrets(served)
        dump = await dump_redis(fresh_redis.url)
        assert dump.count(b"oncelink:") == len(made)
        assert_clean(dump, made)
        await reveal_all(served, made)
        assert_clean(await dump_redis(fresh_redis.url), made)
        assert await dump_redis(fresh_redis.url) == b""
    finally:
        await served.runner.cleanup()


async def reveal_all(served, made) -> None:
    async with aiohttp.ClientSession() as http:
        for link, passphrase in made:
            async with http.post(
                served.url + parse_link(link).path, json=reveal_body(link, passphrase)
            ) as response:
                assert response.status == 200


def sqlite_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


async def test_sqlite_file_and_wal_hold_no_plaintext_key_or_passphrase(tmp_path):
    path = tmp_path / "rest.sqlite3"
    served = await serve(make_settings(), store=SqliteStore(str(path)))
    try:
        made = await make_secrets(served)
        assert len(sqlite3.connect(path).execute("SELECT id FROM secrets").fetchall()) == 6
        assert_clean(sqlite_bytes(path), made)
        await reveal_all(served, made)
        assert_clean(sqlite_bytes(path), made)
    finally:
        await served.runner.cleanup()
    assert_clean(sqlite_bytes(path), made)
