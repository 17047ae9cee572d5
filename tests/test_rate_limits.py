"""Rate limits hold across processes (kept in the store) and say clearly what to do."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.config import Limit
from bot.ratelimit import client_address
from handlers import blocks
from tests.conftest import ServerProcess, serve, slack_settings
from tests.slack_harness import SlackHarness, form_values
from tests.support import parse_link, reveal_body


@pytest.mark.parametrize(
    ("peer", "xff", "depth", "expected"),
    [
        ("10.0.0.1", None, 0, "10.0.0.1"),
        ("10.0.0.1", "6.6.6.6", 0, "10.0.0.1"),  # no trusted proxy: the header is ignored
        ("10.0.0.1", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # spoofed entry on the left
        ("10.0.0.1", "203.0.113.7, 10.0.0.2", 2, "203.0.113.7"),
        ("10.0.0.1", "203.0.113.7", 2, "203.0.113.7"),  # fewer hops than configured
        ("10.0.0.1", " , ", 1, "10.0.0.1"),
    ],
)
def test_client_address_trusts_only_the_configured_proxy_depth(peer, xff, depth, expected):
    assert client_address(peer, xff, depth) == expected


async def test_reveal_attempts_are_limited_across_two_processes(fresh_redis, tmp_path):
    env = {"REDIS_URL": fresh_redis.url, "RATE_LIMIT_REVEAL": "5/1m", "TRUSTED_PROXY_DEPTH": "1"}
    first = ServerProcess(env, tmp_path / "a.log")
    second = ServerProcess(env, tmp_path / "b.log")
    try:
        from bot.service import SecretService
        from storage.redis_store import RedisStore

        store = RedisStore.from_url(fresh_redis.url)
        service = SecretService(store, public_url=first.url, max_ttl=86400)
        link = (await service.create("limited", ttl=600)).link
        await store.close()
        path = parse_link(link).path
        wrong = {"link_proof": reveal_body(link)["link_proof"], "auth": "A" * 43}
        async with aiohttp.ClientSession() as http:
            statuses = []
            for attempt in range(5):
                server = (first, second)[attempt % 2]
                headers = {"X-Forwarded-For": f"6.6.6.{attempt}, 198.51.100.9"}
                async with http.post(server.url + path, json=wrong, headers=headers) as response:
                    statuses.append(response.status)
            # Wrong `auth` counts as a wrong passphrase: the 5th destroys the secret.
            assert statuses == [403] * 4 + [410]
            client = {"X-Forwarded-For": "1.2.3.4, 198.51.100.9"}  # same client, other hop

            async def attempt(server) -> tuple[int, dict]:
                async with http.post(
                    server.url + path, json=reveal_body(link), headers=client
                ) as response:
                    return response.status, dict(response.headers)

            # The 6th failure crosses the shared count of 5: from then on, each process
            # refuses this client without asking the store, at the latest after one more try.
            assert (await attempt(second))[0] == 410
            status, headers = await attempt(second)
            assert status == 429 and int(headers["Retry-After"]) > 0
            assert (await attempt(first))[0] == 410
            assert (await attempt(first))[0] == 429
            async with http.post(second.url + path, json=reveal_body(link), headers=client) as r:
                answer = await r.json()
                assert answer["error"] == "rate_limited" and "try again in" in answer["message"]
            async with http.get(first.url + path) as response:  # looking is never limited
                assert response.status in (200, 404)
            async with http.post(
                first.url + path,
                json=reveal_body(link),
                headers={"X-Forwarded-For": "198.51.100.10"},
            ) as response:
                assert response.status == 410  # another client is not limited
    finally:
        first.stop()
        second.stop()


async def test_secret_creation_is_limited_per_user_with_clear_messages(store, fake_slack):
    served = await serve(slack_settings(fake_slack, rate_limit_create=Limit(2, 60)), store=store)
    try:
        slack = SlackHarness(served, fake_slack)
        for text in ("one", "two"):
            status, body = await slack.command(text)
            assert (status, body) == (200, "")
        status, body = await slack.command("three")
        answer = json.loads(body)
        assert answer["response_type"] == "ephemeral"
        assert "many secrets in a short time" in answer["text"]
        assert "nothing was stored" in answer["text"]
        # The modal stays open with everything typed: the limit shows on the secret field.
        view = await slack.open_modal()
        status, body = await slack.submit(form_values("four"), view["private_metadata"])
        answer = json.loads(body)
        assert answer["response_action"] == "errors"
        assert "Wait" in answer["errors"][blocks.SECRET_BLOCK]
        # Another person is not affected.
        status, body = await slack.command("five", user_id="UOTHER")
        assert (status, body) == (200, "")
        await fake_slack.wait_for("response_url", 3)
    finally:
        await served.runner.cleanup()


async def test_a_hanging_store_does_not_hold_up_the_limit_check():
    import asyncio
    import time

    from bot.ratelimit import RateLimiter

    class HangingStore:
        async def count_hit(self, key, window, now):
            await asyncio.sleep(30)

    limiter = RateLimiter(HangingStore(), timeout=0.2)
    started = time.monotonic()
    await limiter.check("create", "T:U", Limit(1, 60))  # fails open: the action reports
    assert time.monotonic() - started < 1.0


async def test_successful_reveals_are_never_limited(store):
    from tests.conftest import make_settings

    served = await serve(make_settings(rate_limit_reveal=Limit(2, 60)), store=store)
    try:
        links = [(await served.service.create(f"s{n}", ttl=60)).link for n in range(6)]
        async with aiohttp.ClientSession() as http:
            for link in links:
                async with http.post(
                    served.url + parse_link(link).path, json=reveal_body(link)
                ) as response:
                    assert response.status == 200
            for _ in range(3):  # failures count: the third one goes over the limit of 2
                async with http.post(
                    served.url + parse_link(links[0]).path, json=reveal_body(links[0])
                ) as response:
                    assert response.status == 410
            async with http.post(
                served.url + parse_link(links[0]).path, json=reveal_body(links[0])
            ) as response:
                assert response.status == 429
    finally:
        await served.runner.cleanup()
