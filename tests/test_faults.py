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
from tests.conftest import RedisServer, ServerProcess, free_port
from tests.support import decrypt_answer, parse_link, proofs, reveal_body


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
    from tests.conftest import serve, slack_settings
    from tests.slack_harness import SlackHarness

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
    await asyncio.sleep(1.7)
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
                    *(store.status(created.secret_id, 0) for _ in range(20)),
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
