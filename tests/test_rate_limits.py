"""Rate limits hold across processes (kept in the store) and say clearly what to do."""

from __future__ import annotations

import asyncio
import json
import logging
from ipaddress import ip_network

import aiohttp
import pytest
from multidict import CIMultiDict

from bot.app import UNCHECKED_PROXY_DEPTH, create_app
from bot.config import ConfigError, Limit, Settings
from bot.ratelimit import client_address
from bot.service import SecretService
from bot.web import SERVICE_KEY
from handlers import blocks
from storage.sqlite_store import SqliteStore
from tests.slack_harness import SlackHarness, form_values
from tests.support.app import make_settings, serve, slack_settings
from tests.support.clock import FakeClock
from tests.support.links import decrypt_answer, parse_link, reveal_body
from tests.support.process import ServerProcess


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

            # The 6th failure is over the shared count of 5, on either process: the count is
            # taken in the store, atomically, before the answer is decided.
            status, headers = await attempt(second)
            assert status == 429 and int(headers["Retry-After"]) > 0
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
    from tests.support.app import make_settings

    served = await serve(
        make_settings(rate_limit_reveal=Limit(2, 60)), store=store, clock=FakeClock()
    )
    try:
        links = [(await served.service.create(f"s{n}", ttl=60)).link for n in range(6)]
        async with aiohttp.ClientSession() as http:
            for link in links:
                async with http.post(
                    served.url + parse_link(link).path, json=reveal_body(link)
                ) as response:
                    assert response.status == 200
            statuses = []
            for _ in range(3):  # failures count: the third one goes over the limit of 2
                async with http.post(
                    served.url + parse_link(links[0]).path, json=reveal_body(links[0])
                ) as response:
                    statuses.append(response.status)
            assert statuses == [410, 410, 429]
            fresh = (await served.service.create("still mine", ttl=60)).link
            async with http.post(  # a limited address still gets a right reveal
                served.url + parse_link(fresh).path, json=reveal_body(fresh)
            ) as response:
                assert response.status == 200
                assert decrypt_answer(fresh, await response.json()) == "still mine"
    finally:
        await served.runner.cleanup()


PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("peer", "xff", "depth", "expected"),
    [
        ("10.1.2.3", "203.0.113.7", 0, "203.0.113.7"),  # a trusted proxy vouches for its hop
        ("198.51.100.1", "203.0.113.7", 0, "198.51.100.1"),  # an untrusted peer: ignored
        ("198.51.100.1", "203.0.113.7", 1, "198.51.100.1"),  # the depth alone no longer does
        ("10.1.2.3", "6.6.6.6, 203.0.113.7, 10.9.9.9", 0, "203.0.113.7"),  # inner proxies skipped
        ("10.1.2.3", "10.2.2.2, 10.9.9.9", 0, "10.2.2.2"),  # only proxies: the leftmost
        ("10.1.2.3", "6.6.6.6, 203.0.113.7, 10.9.9.9", 2, "203.0.113.7"),  # depth: as before
        ("::ffff:10.1.2.3", "203.0.113.7", 0, "203.0.113.7"),  # IPv4 on a dual-stack socket
        ("2001:db8::5", "2001:db8::9, 203.0.113.7", 0, "203.0.113.7"),  # malformed order is ok
        ("10.1.2.3", " , ", 0, "10.1.2.3"),
        ("10.1.2.3", None, 0, "10.1.2.3"),
    ],
)
def test_forwarded_for_is_read_only_from_trusted_proxies(peer, xff, depth, expected):
    assert client_address(peer, xff, depth, PROXIES) == expected


def test_trusted_proxies_are_parsed_and_a_bad_one_is_named():
    settings = Settings.from_env({"TRUSTED_PROXIES": " 10.0.0.0/8 , 192.0.2.7,::1 "})
    assert [str(net) for net in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "::1/128",
    ]
    assert Settings.from_env({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/33"})
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "proxy.internal"})


async def _fail(http, served, link, headers=None) -> int:
    """A reveal with a mistyped link: a broken link, which the store counts nowhere."""
    wrong = {"link_proof": "A" * 43, "auth": reveal_body(link)["auth"]}
    async with http.post(
        served.url + parse_link(link).path, json=wrong, headers=headers or {}
    ) as response:
        return response.status


async def test_an_untrusted_forwarded_for_is_ignored_and_warned_about_once(store, caplog):
    """Rotating a forged header buys no fresh limit, and the operator hears of it once."""
    settings = make_settings(rate_limit_reveal=Limit(3, 60), trusted_proxies=PROXIES)
    served = await serve(
        settings, store=store, clock=FakeClock()
    )  # the test's peer, 127.0.0.1, is no proxy
    try:
        link = (await served.service.create("intact", ttl=60)).link
        async with aiohttp.ClientSession() as http:
            statuses = [
                await _fail(http, served, link, {"X-Forwarded-For": f"6.6.6.{n}"}) for n in range(5)
            ]
            assert statuses == [403, 403, 403, 429, 429]
            assert await _fail(http, served, link) == 429  # without the header: the same peer
        warnings = [r for r in caplog.records if r.name == "bot.ratelimit" and r.levelno >= 30]
        assert len(warnings) == 1 and "TRUSTED_PROXIES" in warnings[0].getMessage()
        assert "6.6.6" not in caplog.text and "127.0.0.1" not in warnings[0].getMessage()
    finally:
        await served.runner.cleanup()


async def test_a_trusted_proxy_tells_clients_apart_and_is_not_warned_about(store, caplog):
    loopback = (ip_network("127.0.0.0/8"),)
    settings = make_settings(rate_limit_reveal=Limit(2, 60), trusted_proxies=loopback)
    served = await serve(settings, store=store, clock=FakeClock())
    try:
        link = (await served.service.create("intact", ttl=60)).link
        alice = {"X-Forwarded-For": "203.0.113.7"}
        bob = {"X-Forwarded-For": "6.6.6.6, 203.0.113.8"}  # the left entry is Bob's claim
        async with aiohttp.ClientSession() as http:
            assert [await _fail(http, served, link, alice) for _ in range(3)] == [403, 403, 429]
            assert await _fail(http, served, link, bob) == 403  # another client, own count
            assert await _fail(http, served, link, {"X-Forwarded-For": "203.0.113.7"}) == 429
        assert not [r for r in caplog.records if r.name == "bot.ratelimit" and r.levelno >= 30]
    finally:
        await served.runner.cleanup()


async def test_a_forged_line_before_the_proxys_own_buys_no_fresh_limit(store):
    """A proxy that adds its own X-Forwarded-For line (HAProxy's `forwardfor`) leaves the
    client's forged line first: every line is read, so the proxy's entry still decides."""
    settings = make_settings(
        rate_limit_reveal=Limit(3, 60), trusted_proxies=(ip_network("127.0.0.0/8"),)
    )
    served = await serve(settings, store=store, clock=FakeClock())
    try:
        link = (await served.service.create("intact", ttl=60)).link
        async with aiohttp.ClientSession() as http:
            answers = [
                await _fail(
                    http,
                    served,
                    link,
                    CIMultiDict(
                        [
                            ("X-Forwarded-For", f"203.0.113.{n}"),  # the client's, forged
                            ("X-Forwarded-For", "198.51.100.66"),  # the proxy's own line
                        ]
                    ),
                )
                for n in range(6)
            ]
        assert answers == [403, 403, 403, 429, 429, 429]
    finally:
        await served.runner.cleanup()


class CountingStore:
    """The real store, with the reveals and the limiter's increments it was asked for."""

    def __init__(self, store) -> None:
        self._store = store
        self.reveals: list[str] = []
        self.hits = 0

    async def reveal(self, *args, **kwargs):
        result = await self._store.reveal(*args, **kwargs)
        self.reveals.append(result.outcome.value)
        return result

    async def count_hit(self, *args, **kwargs):
        self.hits += 1
        return await self._store.count_hit(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_40_concurrent_failures_against_a_limit_of_5_get_exactly_5_answers(store):
    """The count is taken atomically before the answer is decided: a burst that arrives
    all at once cannot all pass the check. The 35 others learn nothing but 429."""
    counting = CountingStore(store)
    served = await serve(
        make_settings(rate_limit_reveal=Limit(5, 60)), store=counting, clock=FakeClock()
    )
    try:
        link = (await served.service.create("intact", ttl=60)).link
        async with aiohttp.ClientSession() as http:
            statuses = await asyncio.gather(*(_fail(http, served, link) for _ in range(40)))
            assert sorted(statuses) == [403] * 5 + [429] * 35
            assert counting.hits == 40 and counting.reveals == ["broken_link"] * 40
            async with http.post(  # and the address still gets the right reveal
                served.url + parse_link(link).path, json=reveal_body(link)
            ) as response:
                assert response.status == 200
                assert decrypt_answer(link, await response.json()) == "intact"
    finally:
        await served.runner.cleanup()


async def test_a_limited_wrong_passphrase_learns_nothing_and_still_costs_an_attempt(store):
    """Past the limit a wrong passphrase is answered 429, without attempts left. It still
    counts against the secret in the store: else a limited address could guess for free,
    its 429s and 200s telling wrong from right."""
    served = await serve(
        make_settings(rate_limit_reveal=Limit(1, 60)), store=store, clock=FakeClock()
    )
    try:
        other = (await served.service.create("other", ttl=60)).link
        link = (await served.service.create("guarded", ttl=60, passphrase="right one")).link
        path = parse_link(link).path
        async with aiohttp.ClientSession() as http:
            assert await _fail(http, served, other) == 403  # the one failure allowed
            async with http.post(served.url + path, json=reveal_body(link, "wrong")) as r:
                assert r.status == 429
                answer = await r.json()
                assert set(answer) == {"error", "message"}  # no attempts left, no kind
                assert answer["error"] == "rate_limited"
            status = await served.service.status(parse_link(link).secret_id)
            assert status.attempts_left == 4
            async with http.post(served.url + path, json=reveal_body(link, "right one")) as r:
                assert r.status == 200
                assert decrypt_answer(link, await r.json(), "right one") == "guarded"
    finally:
        await served.runner.cleanup()


async def test_asking_for_secrets_counts_against_the_creation_limit(store, fake_slack):
    """A request DMs anyone under the app's name: it is counted like a secret created."""
    served = await serve(
        slack_settings(fake_slack, rate_limit_create=Limit(3, 60)),
        store=store,
        clock=FakeClock(),
    )
    try:
        slack = SlackHarness(served, fake_slack)
        asked = {blocks.ASK_BLOCK: {blocks.ASK_SELECT: {"selected_user": "UALICE"}}}
        metadata = json.dumps({"response_url": fake_slack.response_url("ask")})
        for _ in range(2):
            status, body = await slack.submit_view(
                blocks.REQUEST_MODAL, asked, metadata, "U2147483697"
            )
            assert (status, body) == (200, "")
        await fake_slack.wait_for("chat.postMessage", 2)  # the two DMs to Alice
        status, body = await slack.command("one secret")  # the third: shares the count
        assert (status, body) == (200, "")
        status, body = await slack.submit_view(blocks.REQUEST_MODAL, asked, metadata, "U2147483697")
        answer = json.loads(body)
        assert answer["response_action"] == "errors"
        refusal = answer["errors"][blocks.ASK_BLOCK]
        assert "Wait" in refusal and "nothing was stored or sent" in refusal
        await fake_slack.wait_for("response_url", 3)  # two "Asked Alice" and the link
        dms = [call for call in fake_slack.calls if call.method == "chat.postMessage"]
        assert len(dms) == 2  # the refused request reached nobody
        status, body = await slack.submit_view(blocks.REQUEST_MODAL, asked, metadata, "UOTHER")
        assert (status, body) == (200, "")  # another person is not affected
    finally:
        await served.runner.cleanup()


def test_a_proxy_depth_without_trusted_proxies_is_warned_about_at_start(caplog):
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        create_app(make_settings(trusted_proxy_depth=1), store=SqliteStore(":memory:"))
        create_app(
            make_settings(trusted_proxy_depth=1, trusted_proxies=(ip_network("10.0.0.0/8"),)),
            store=SqliteStore(":memory:"),
        )
        create_app(make_settings(), store=SqliteStore(":memory:"))
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.app"]
    assert messages.count(UNCHECKED_PROXY_DEPTH) == 1


async def test_the_creation_limit_is_the_cores_one_count_per_creator(tmp_path):
    """RATE_LIMIT_CREATE lives in the core (service.creation): every edge that makes
    something in a person's name (a secret, a compose link, a request, an API upload)
    counts in it, one count per creator; a service built without one limits nothing."""
    from bot.ratelimit import RateLimited

    store = SqliteStore(str(tmp_path / "limits.sqlite3"))
    app = create_app(make_settings(rate_limit_create=Limit(2, 60)), store=store)
    service = app[SERVICE_KEY]
    try:
        await service.creation.check("T1:U1")
        await service.creation.check("T1:U1")
        with pytest.raises(RateLimited):
            await service.creation.check("T1:U1")
        await service.creation.check("T1:U2")  # someone else's count
        unlimited = SecretService(store, public_url="http://x", max_ttl=60)
        for _ in range(10):
            await unlimited.creation.check("T1:U1")
    finally:
        await store.close()
