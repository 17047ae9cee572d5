"""Faults survived, nothing lost: Redis killed with -9, the app stopped mid-load, Slack down."""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp
import pytest

from bot.service import SecretService
from bot.web import _revealed_json
from storage import StoreUnavailable, make_store
from storage.redis_store import RedisStore
from tests.support.links import decrypt_answer, parse_link, proofs, reveal_body
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from tests.support.redis_servers import RedisServer


async def reveal(http: aiohttp.ClientSession, url: str, link: str) -> tuple[int, dict]:
    async with http.post(url + parse_link(link).path, json=reveal_body(link)) as response:
        return response.status, await response.json()


async def assert_each_reveals_once(
    http: aiohttp.ClientSession, url: str, links: list[str], prefix: str
) -> None:
    """Every link shows its own text ("{prefix} {n}") once, then is gone."""
    for n, link in enumerate(links):
        status, answer = await reveal(http, url, link)
        assert status == 200 and decrypt_answer(link, answer) == f"{prefix} {n}"
        assert (await reveal(http, url, link))[0] == 410


async def wait_healthy(http: aiohttp.ClientSession, url: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with http.get(url + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("app did not become healthy")
        await asyncio.sleep(0.1)


async def test_acknowledged_secrets_survive_redis_kill_9_and_the_app_reconnects(tmp_path):
    redis = RedisServer(tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    redis.start()
    app = ServerProcess({"REDIS_URL": redis.url, "RATE_LIMIT_REVEAL": "off"}, tmp_path / "app.log")
    store = RedisStore.from_url(redis.url)
    try:
        service = SecretService(store, public_url=app.url, max_ttl=86400)
        links = [(await service.create(f"durable {n}", ttl=600)).link for n in range(50)]
        await store.close()
        redis.kill()  # SIGKILL: no chance to save anything it had not already written
        async with aiohttp.ClientSession() as http:
            async with http.get(app.url + "/readyz") as response:
                assert response.status == 503
            async with http.get(app.url + "/healthz") as response:  # alive all the same
                assert response.status == 200
            async with http.get(app.url + parse_link(links[0]).path) as response:
                assert response.status == 503
                assert "Temporarily unavailable" in await response.text()
            status, answer = await reveal(http, app.url, links[0])
            assert status == 503 and answer["error"] == "unavailable"
            redis.start()  # same port, same directory: it replays its append-only file
            await wait_healthy(http, app.url)  # the app was not restarted
            await assert_each_reveals_once(http, app.url, links, "durable")
    finally:
        app.stop()
        redis.kill()
    assert app.process.returncode == 0


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
async def test_sigterm_during_load_finishes_in_flight_reveals_and_loses_nothing(
    backend, tmp_path, request
):
    env = {"RATE_LIMIT_REVEAL": "off", "SQLITE_PATH": str(tmp_path / "term.sqlite3")}
    env["REDIS_URL"] = request.getfixturevalue("fresh_redis").url if backend == "redis" else ""
    app = ServerProcess(env, tmp_path / "first.log")
    store = make_store(env["REDIS_URL"] or None, env["SQLITE_PATH"])
    service = SecretService(store, public_url=app.url, max_ttl=86400)
    links = [(await service.create(f"in flight {n}", ttl=600)).link for n in range(1500)]
    await store.close()
    results: dict[str, int | str] = {}
    connector = aiohttp.TCPConnector(limit=40)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(link: str) -> None:
            try:
                status, answer = await reveal(http, app.url, link)
                if status == 200:
                    assert decrypt_answer(link, answer) == f"in flight {links.index(link)}"
                results[link] = status
            except (TimeoutError, aiohttp.ClientError) as exc:
                results[link] = type(exc).__name__

        load = asyncio.gather(*(one(link) for link in links))
        # Signal once the load is well under way, whatever the machine's speed.
        while len(results) < 100:
            await asyncio.sleep(0.005)
        app.process.send_signal(signal.SIGTERM)
        await load
    assert await asyncio.to_thread(app.wait) == 0  # a graceful exit, not a crash
    won = [link for link, status in results.items() if status == 200]
    not_won = [link for link, status in results.items() if status != 200]
    assert won and not_won, "the signal should land in the middle of the load"
    assert all(status in (200, 503) or isinstance(status, str) for status in results.values())
    # Restart on the same store: every secret that no client received is still there.
    again = ServerProcess(env, tmp_path / "second.log")
    try:
        async with aiohttp.ClientSession() as http:
            for link in not_won:
                status, answer = await reveal(http, again.url, link)
                assert status == 200, (status, results[link])
            for link in won[:50]:
                assert (await reveal(http, again.url, link))[0] == 410
    finally:
        again.stop()


async def test_slack_unreachable_burns_the_undeliverable_secret(store, fake_slack):
    from tests.slack_harness import SlackHarness
    from tests.support.app import serve, slack_settings

    served = await serve(slack_settings(fake_slack), store=store)
    try:
        slack = SlackHarness(served, fake_slack)
        await slack.command("warm up")  # bolt's auth.test happens once, while Slack is up
        await fake_slack.wait_for("response_url")
        dead_hook = f"http://127.0.0.1:{free_port()}/response/gone"  # connection refused
        fake_slack.fail("chat.postMessage", times=3, drop=True)  # DM fallback dropped too
        status, _ = await slack.command("nobody gets this", response_url=dead_hook)
        assert status == 200
        # Three dropped tries to DM the link, then the creator is told by DM that it was burned.
        told = (await fake_slack.wait_for("chat.postMessage", 4))[3]
        assert "deleted right away" in told["text"] and "/s/" not in told["text"]
        assert await live_secrets(store) == 1  # only the warm-up secret remains
    finally:
        await served.runner.cleanup()


async def live_secrets(store) -> int:
    if isinstance(store, RedisStore):
        return len([key async for key in store._redis.scan_iter("oncelink:{*}:s")])
    import sqlite3

    conn = sqlite3.connect(store._path)
    try:
        return conn.execute("SELECT count(*) FROM secrets").fetchone()[0]
    finally:
        conn.close()


async def test_slow_slack_is_waited_for_within_bounds(slack):
    slack.fake.fail("response_url", delay=1.5, status=200, body={"ok": True})
    await slack.command("patience")
    await slack.fake.wait_for("response_url")
    await slack.settle()  # the delivery has finished: had it retried, the retry is recorded
    assert len(slack.fake.of("response_url")) == 1  # slow but fine: delivered once, no retry


async def test_sentinel_failover_keeps_every_acknowledged_secret(sentinel_for_failover, tmp_path):
    """Kill the primary with -9 mid-life: the sentinel promotes the replica, the app follows
    it without a restart, and every secret whose creation was acknowledged reveals once."""
    setup = sentinel_for_failover
    env = {"REDIS_URL": setup.url, "RATE_LIMIT_REVEAL": "off"}
    app = ServerProcess(env, tmp_path / "app.log")
    store = RedisStore.from_url(setup.url)
    try:
        service = SecretService(store, public_url=app.url, max_ttl=86400)
        links = [(await service.create(f"replicated {n}", ttl=600)).link for n in range(40)]
        await store.close()
        old_primary = setup.primary.port
        setup.primary.kill()
        deadline = asyncio.get_running_loop().time() + 30
        while setup.primary_port() in (old_primary, 0):
            assert asyncio.get_running_loop().time() < deadline, "no failover happened"
            await asyncio.sleep(0.2)
        assert setup.primary_port() == setup.replica.port
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, app.url, timeout=30)
            await assert_each_reveals_once(http, app.url, links, "replicated")
    finally:
        app.stop()


async def test_a_hung_redis_is_reported_within_the_step_bound_and_loses_nothing(tmp_path):
    """SIGSTOP: Redis accepts nothing and answers nothing, the case a timeout exists for."""
    from storage.redis_store import COMMAND_TIMEOUT

    redis = RedisServer(tmp_path)
    redis.start()
    store = RedisStore.from_url(redis.url)
    service = SecretService(store, public_url="http://x", max_ttl=3600)
    try:
        created = await service.create("survives a hang", ttl=600)
        redis.process.send_signal(signal.SIGSTOP)
        try:
            started = asyncio.get_running_loop().time()
            answers = await asyncio.wait_for(
                asyncio.gather(
                    *(store.status(created.secret_id, 0, max_attempts=5) for _ in range(20)),
                    return_exceptions=True,
                ),
                timeout=10,
            )
            waited = asyncio.get_running_loop().time() - started
        finally:
            redis.process.send_signal(signal.SIGCONT)
        assert all(isinstance(answer, StoreUnavailable) for answer in answers), answers
        assert COMMAND_TIMEOUT - 0.3 <= waited <= COMMAND_TIMEOUT + 0.6  # a busy CI machine
        # The steps cut short dropped their connections; new ones work, the secret is there.
        revealed = await service.reveal(created.secret_id, *proofs(created.link))
        answer = json.loads(_revealed_json(revealed))  # what the browser would be sent
        assert decrypt_answer(created.link, answer) == "survives a hang"
    finally:
        await store.close()
        redis.kill()


RECOMMENDED_REDIS = ("--appendonly", "yes", "--appendfsync", "always")


async def reconnected(store: RedisStore, timeout: float = 10.0) -> None:
    """After a restart the pool's connections are dead: the first steps fail, then one
    succeeds on a fresh connection."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await store.ping()
        except StoreUnavailable:
            assert asyncio.get_running_loop().time() < deadline, "redis did not come back"
            await asyncio.sleep(0.05)


async def test_what_was_revealed_burned_or_destroyed_stays_gone_after_kill_9(tmp_path):
    """The recommended persistence: Redis writes each delete to disk before it replies, so
    nothing a reveal handed out can come back after a crash."""
    from bot.errors import SecretGone, WrongPassphrase

    redis = RedisServer(tmp_path, *RECOMMENDED_REDIS)
    redis.start()
    store = RedisStore.from_url(redis.url)
    service = SecretService(store, public_url="http://x", max_ttl=3600)
    try:
        revealed = await service.create("shown once", ttl=600)
        burned = await service.create("burned", ttl=600, creator="T1:U1")
        guessed = await service.create("guessed", ttl=600, passphrase="open sesame")
        kept = await service.create("still waiting", ttl=600)
        await service.reveal(revealed.secret_id, *proofs(revealed.link))
        await service.burn(burned.secret_id, "T1:U1")
        link_proof, _ = proofs(guessed.link)
        for n in range(5):
            with pytest.raises((WrongPassphrase, SecretGone)):
                await service.reveal(guessed.secret_id, link_proof, bytes([n]) * 32)
        redis.kill()  # SIGKILL, straight after the answers
        redis.start()  # same port and directory: it replays its append-only file
        await reconnected(store)
        for gone in (revealed, burned, guessed):
            with pytest.raises(SecretGone):
                await service.status(gone.secret_id)
            with pytest.raises(SecretGone):
                await service.reveal(gone.secret_id, *proofs(gone.link, "open sesame"))
        answer = await service.reveal(kept.secret_id, *proofs(kept.link))
        assert decrypt_answer(kept.link, json.loads(_revealed_json(answer))) == "still waiting"
    finally:
        await store.close()
        redis.kill()


async def test_with_snapshots_only_a_restart_brings_back_what_was_revealed_since(tmp_path):
    """What docs/SECURITY.md says of RDB snapshots without an append-only file, shown: the
    reason the store warns about that configuration."""
    redis = RedisServer(tmp_path, "--save", "3600 1")
    redis.start()
    store = RedisStore.from_url(redis.url)
    service = SecretService(store, public_url="http://x", max_ttl=3600)
    try:
        created = await service.create("twice", ttl=600)
        redis.command("SAVE")
        await service.reveal(created.secret_id, *proofs(created.link))
        redis.kill()
        redis.start()  # it loads the snapshot
        await reconnected(store)
        again = await service.reveal(created.secret_id, *proofs(created.link))
        assert decrypt_answer(created.link, json.loads(_revealed_json(again))) == "twice"
    finally:
        await store.close()
        redis.kill()


@pytest.mark.parametrize(
    ("args", "warned", "says"),
    [
        (("--save", "3600 1"), True, "snapshots"),
        (("--appendonly", "yes", "--appendfsync", "everysec"), True, "appendfsync is everysec"),
        (("--appendonly", "yes", "--appendfsync", "no", "--save", "60 1"), True, "is no"),
        ((*RECOMMENDED_REDIS, "--no-appendfsync-on-rewrite", "yes"), True, "rewrites"),
        (RECOMMENDED_REDIS, False, ""),
        ((*RECOMMENDED_REDIS, "--save", "60 1"), False, ""),  # the AOF is what is replayed
        ((), False, ""),  # nothing on disk: a restart brings nothing back
    ],
)
async def test_one_warning_when_a_restart_could_bring_a_revealed_secret_back(
    tmp_path, caplog, args, warned, says
):
    import logging

    redis = RedisServer(tmp_path, *args)
    redis.start()
    store = RedisStore.from_url(redis.url)
    try:
        with caplog.at_level(logging.INFO, logger="storage.redis_store"):
            await store.ping()  # the first step asks; later ones do not
            await store.status("AAECAwQFBgcICQoLDA0ODw", 0, max_attempts=5)
            await store.ping()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        if warned:
            assert len(warnings) == 1 and says in warnings[0], warnings
            assert (
                "appendonly yes and appendfsync always" in warnings[0]
                or "set it to no" in (warnings[0])
            )
        else:
            assert warnings == []
    finally:
        await store.close()
        redis.kill()


async def test_a_redis_that_refuses_config_is_said_once_and_works(tmp_path, caplog):
    import logging

    redis = RedisServer(tmp_path, "--rename-command", "CONFIG", "")
    redis.start()
    store = RedisStore.from_url(redis.url)
    service = SecretService(store, public_url="http://x", max_ttl=3600)
    try:
        with caplog.at_level(logging.INFO, logger="storage.redis_store"):
            created = await service.create("managed", ttl=600)
            await service.reveal(created.secret_id, *proofs(created.link))
        said = [r for r in caplog.records if r.name == "storage.redis_store"]
        assert len(said) == 1 and said[0].levelno == logging.INFO
        assert "not checked" in said[0].getMessage()
    finally:
        await store.close()
        redis.kill()


async def test_a_change_no_replica_confirmed_hands_nothing_out(tmp_path):
    """With replicas to wait for (Sentinel), a delete is confirmed like a save before the
    reveal answers: a replica that cannot confirm it (stopped here) could be promoted and
    hold the secret again, so the reveal hands out nothing, and it stays at most once."""
    from redis.asyncio import Redis

    from bot.errors import SecretGone

    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    primary = RedisServer(tmp_path / "p")
    primary.start()
    replica = RedisServer(tmp_path / "r", "--replicaof", "127.0.0.1", str(primary.port))
    replica.start()
    store = RedisStore(Redis.from_url(primary.url), replicas_to_wait=1)
    service = SecretService(store, public_url="http://x", max_ttl=3600)
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while "slave0:" not in primary.command("INFO", "replication") or "state=online" not in (
            primary.command("INFO", "replication")
        ):
            assert asyncio.get_running_loop().time() < deadline, "the replica did not sync"
            await asyncio.sleep(0.05)
        shown = await service.create("confirmed", ttl=600)  # saves wait for the replica too
        lost = await service.create("unconfirmed", ttl=600, creator="T1:U1")
        burned = await service.create("burn", ttl=600, creator="T1:U1")
        await service.reveal(shown.secret_id, *proofs(shown.link))
        replica.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable):
                await service.reveal(lost.secret_id, *proofs(lost.link))
            with pytest.raises(StoreUnavailable):
                await service.burn(burned.secret_id, "T1:U1")
        finally:
            replica.process.send_signal(signal.SIGCONT)
        for gone in (shown, lost):  # deleted on the primary all the same: never twice
            with pytest.raises(SecretGone):
                await service.reveal(gone.secret_id, *proofs(gone.link))
    finally:
        await store.close()
        replica.kill()
        primary.kill()


async def test_sqlite_writes_each_delete_to_disk_before_answering(tmp_path):
    """WAL with synchronous=FULL: every commit, a reveal's delete among them, is synced
    before the step returns (what docs/SECURITY.md says for SQLite)."""
    from storage.sqlite_store import SqliteStore

    store = SqliteStore(str(tmp_path / "durable.sqlite3"))
    try:
        pragmas = await store._run(
            lambda conn: (
                conn.execute("PRAGMA journal_mode").fetchone()[0],
                conn.execute("PRAGMA synchronous").fetchone()[0],
            )
        )
        assert pragmas == ("wal", 2)  # 2 is FULL
    finally:
        await store.close()
