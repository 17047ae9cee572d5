"""A copy of the store reveals nothing: no plaintext, no key, no passphrase, no proof."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bot import crypto
from storage.redis_store import RedisStore
from storage.sqlite_store import SqliteStore
from tests.support.app import make_settings, serve
from tests.support.links import parse_link, reveal_body

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
            kind = await client.type(key)
            if kind == b"hash":
                for field, value in (await client.hgetall(key)).items():
                    chunks += [field, value]
            elif kind == b"zset":  # the expiry timetable
                chunks += [member for member, _ in await client.zrange(key, 0, -1, withscores=True)]
            else:
                chunks.append(await client.get(key) or b"")
            chunks.append(await client.dump(key) or b"")
        return b"\n".join(chunks)
    finally:
        await client.aclose()


async def secret_keys(url: str) -> list[bytes]:
    client = Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter("oncelink:{*}:s")]
    finally:
        await client.aclose()


async def test_redis_holds_no_plaintext_key_or_passphrase(fresh_redis):
    served = await serve(make_settings(), store=RedisStore.from_url(fresh_redis.url))
    try:
        made = await make_secrets(served)
        dump = await dump_redis(fresh_redis.url)
        assert len(await secret_keys(fresh_redis.url)) == len(made)
        assert_clean(dump, made)
        await reveal_all(served, made)
        dump = await dump_redis(fresh_redis.url)
        assert_clean(dump, made)
        assert await secret_keys(fresh_redis.url) == []  # no ciphertext left behind
        assert b"127.0.0.1" not in dump  # rate-limit counters hold no client address
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


async def test_revealed_burned_and_destroyed_secrets_leave_no_ciphertext(store, tmp_path):
    """After each way a secret can end, its ciphertext is gone from every byte of the store."""
    served = await serve(make_settings(), store=store)
    try:
        service = served.service
        revealed = await service.create("to reveal " * 20, ttl=600, creator="T:U")
        burned = await service.create("to burn " * 20, ttl=600, creator="T:U")
        destroyed = await service.create("to destroy " * 20, ttl=600, passphrase="right one")
        ciphertexts = [
            await raw_ciphertext(store, c.secret_id) for c in (revealed, burned, destroyed)
        ]
        await reveal_all(served, [(revealed.link, None)])
        await service.burn(burned.secret_id, "T:U")
        async with aiohttp.ClientSession() as http:
            for attempt in range(5):
                async with http.post(
                    served.url + parse_link(destroyed.link).path,
                    json=reveal_body(destroyed.link, f"wrong {attempt}"),
                ) as response:
                    assert response.status in (403, 410)
        assert response.status == 410
        blob = await store_bytes(store, tmp_path)
        for ciphertext in ciphertexts:
            assert len(ciphertext) > 100 and ciphertext not in blob
    finally:
        await served.runner.cleanup()


async def raw_ciphertext(store, secret_id: str) -> bytes:
    if isinstance(store, RedisStore):
        from storage import redis_record

        raw = await store._redis.get(f"oncelink:{{{secret_id}}}:s")
        return redis_record.unpack(secret_id, raw)[0].ciphertext
    conn = sqlite3.connect(store._path)
    try:
        return conn.execute("SELECT ciphertext FROM secrets WHERE id = ?", (secret_id,)).fetchone()[
            0
        ]
    finally:
        conn.close()


async def store_bytes(store, tmp_path) -> bytes:
    if isinstance(store, RedisStore):
        url = store._redis.connection_pool.connection_kwargs
        return await dump_redis(f"redis://{url['host']}:{url['port']}/{url.get('db', 0)}")
    return sqlite_bytes(Path(store._path))


async def test_a_composed_file_leaves_no_name_type_or_bytes_in_a_store_dump(store, tmp_path):
    from bot.compose import ComposeGrant
    from tests.support.compose import upload

    served = await serve(make_settings(), store=store)
    try:
        data = b"KUBECONFIG-BYTES-" + os.urandom(256 * 1024)
        name, media_type = "prod-cluster.kubeconfig", "application/x-yaml"
        grant = ComposeGrant("T1:U1", "{}", (3600,), 3600)
        compose = (await served.service.compose.issue(grant)).link
        status, _, link = await upload(
            compose, served.url, crypto.file_plaintext(name, media_type, data), ttl=3600
        )
        assert status == 200
        blob = await store_bytes(store, tmp_path)
        assert len(blob) > len(data)  # the ciphertext is there
        for clear in (name.encode(), media_type.encode(), data[:32], data[-64:]):
            assert clear not in blob
        token = compose.rsplit("/", 1)[-1].encode()
        assert token not in blob  # only its hash was kept, and it is used up
        assert parse_link(link).link_key not in blob
    finally:
        await served.runner.cleanup()
