"""Exactly once, under races: many processes, many concurrent clicks, mixed with burn,
expiry and wrong passphrases. Bounded in count so the suite stays quick."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import pytest

from bot.errors import BrokenLink, NotCreator, SecretGone, WrongPassphrase
from bot.service import SecretService
from storage import make_store
from tests.support.clock import FakeClock
from tests.support.links import parse_link, proofs, reveal_body
from tests.support.process import ServerProcess

SECRETS_PER_STORE = 200
CLICKS_PER_SECRET = 100


@pytest.mark.parametrize("backend", ["redis", "sqlite", "cluster", "sentinel"])
async def test_reveal_burns_exactly_once_under_100_concurrent_clicks_on_two_processes(
    backend, tmp_path, request
):
    env = {"RATE_LIMIT_REVEAL": "off", "SQLITE_PATH": str(tmp_path / "race.sqlite3")}
    fixture = {"redis": "fresh_redis", "cluster": "fresh_cluster", "sentinel": "redis_sentinel"}
    fixture = fixture.get(backend)
    env["REDIS_URL"] = request.getfixturevalue(fixture).url if fixture else ""
    servers = [ServerProcess(env, tmp_path / f"{n}.log") for n in range(2)]
    store = make_store(env["REDIS_URL"] or None, env["SQLITE_PATH"])
    try:
        service = SecretService(store, public_url=servers[0].url, max_ttl=86400)
        links = [
            (await service.create(f"race {n}", ttl=600)).link for n in range(SECRETS_PER_STORE)
        ]
        winners = Counter()
        connector = aiohttp.TCPConnector(limit=CLICKS_PER_SECRET * 2)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def click(url: str, body: dict) -> int:
                async with http.post(url, json=body) as response:
                    await response.read()
                    return response.status

            for link in links:
                body, path = reveal_body(link), parse_link(link).path
                statuses = await asyncio.gather(
                    *(click(servers[n % 2].url + path, body) for n in range(CLICKS_PER_SECRET))
                )
                counts = Counter(statuses)
                assert counts == {200: 1, 410: CLICKS_PER_SECRET - 1}, counts
                winners[statuses.index(200) % 2] += 1
        assert sum(winners.values()) == SECRETS_PER_STORE
        assert winners[0] > 0 and winners[1] > 0  # both processes really raced
    finally:
        await store.close()
        for server in servers:
            server.stop()


async def outcome(coroutine) -> str:
    try:
        await coroutine
    except SecretGone:
        return "gone"
    except WrongPassphrase:
        return "wrong"
    except (BrokenLink, NotCreator) as exc:
        return type(exc).__name__
    return "won"


async def test_reveal_racing_the_creators_burn_has_one_winner(store):
    service = SecretService(store, public_url="http://x", max_ttl=86400)
    tally = Counter()
    for _ in range(60):
        created = await service.create("contested", ttl=60, creator="T:U")
        clicks = [service.reveal(created.secret_id, *proofs(created.link)) for _ in range(5)]
        burn = service.burn(created.secret_id, "T:U")
        results = await asyncio.gather(*(outcome(c) for c in [*clicks[:2], burn, *clicks[2:]]))
        assert results.count("won") == 1, results
        tally["burn" if results[2] == "won" else "reveal"] += 1
    assert sum(tally.values()) == 60


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_reveal_at_the_expiry_instant_never_shows_an_expired_secret(store):
    """SQLite compares the service's clock with each record's expiry, so the clock is the
    test's: a reveal racing others just before expiry wins at most once, and after it none do."""
    clock = FakeClock()
    service = SecretService(store, public_url="http://x", max_ttl=86400, clock=clock)
    created = [await service.create("short-lived", ttl=1) for _ in range(20)]
    clock.advance(0.999)
    results = await asyncio.gather(
        *(outcome(service.reveal(c.secret_id, *proofs(c.link))) for c in created for _ in range(5))
    )
    for n in range(20):
        assert results[n * 5 : n * 5 + 5].count("won") == 1
    later = [await service.create("short-lived", ttl=1) for _ in range(20)]
    clock.advance(1.0)  # exactly at expiry: gone
    for c in later:
        assert await outcome(service.reveal(c.secret_id, *proofs(c.link))) == "gone"


@pytest.mark.parametrize("store", ["redis"], indirect=True)
async def test_reveal_racing_redis_expiry_never_shows_an_expired_secret(store):
    """Redis expires the record itself (the key's TTL, set at creation), so this race is
    against Redis's own clock and only real time passing can run it."""
    service = SecretService(store, public_url="http://x", max_ttl=86400)
    created = [await service.create("short-lived", ttl=1) for _ in range(20)]
    expires_at = time.time() + 1
    await asyncio.sleep(max(0.0, expires_at - time.time() - 0.05))
    results = await asyncio.gather(
        *(outcome(service.reveal(c.secret_id, *proofs(c.link))) for c in created for _ in range(5))
    )
    for n in range(20):
        assert results[n * 5 : n * 5 + 5].count("won") <= 1
    await asyncio.sleep(max(0.0, expires_at - time.time() + 0.1))
    for c in created:
        assert await outcome(service.reveal(c.secret_id, *proofs(c.link))) == "gone"


async def test_wrong_passphrases_racing_the_right_one(store):
    service = SecretService(store, public_url="http://x", max_ttl=86400)
    created = await service.create("guarded", ttl=60, passphrase="the right one")
    right = proofs(created.link, "the right one")
    wrongs = [proofs(created.link, f"wrong {n}") for n in range(4)]
    results = await asyncio.gather(
        *(outcome(service.reveal(created.secret_id, *p)) for p in [*wrongs[:2], right, *wrongs[2:]])
    )
    # Under the limit, the right passphrase always wins, whatever the order; wrong ones
    # that come after it find the secret gone.
    assert results[2] == "won"
    assert set(results[:2] + results[3:]) <= {"wrong", "gone"}

    created = await service.create("guarded", ttl=60, passphrase="the right one")
    right = proofs(created.link, "the right one")
    wrongs = [proofs(created.link, f"wrong {n}") for n in range(10)]
    results = await asyncio.gather(
        *(outcome(service.reveal(created.secret_id, *p)) for p in [*wrongs[:5], right, *wrongs[5:]])
    )
    # Over the limit: the right one wins only if it got in before the 5th wrong one;
    # otherwise exactly 4 wrong ones were counted and the 5th destroyed the secret.
    assert results.count("won") <= 1
    assert results.count("wrong") <= 4
    if results[5] != "won":
        assert results[5] == "gone" and results.count("wrong") == 4
    assert await outcome(service.reveal(created.secret_id, *right)) == "gone"
