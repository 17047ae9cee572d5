"""The browser edge over HTTP: what GET, HEAD and POST may and may not do."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import crypto
from bot.app import create_app
from bot.errors import SecretGone
from bot.service import SecretService
from handlers.endpoint import MAX_SLACK_BODY
from storage.redis_store import RedisStore
from tests.slack_fake import interactive_body, payload
from tests.slack_harness import SlackHarness
from tests.support.app import make_settings, serve, slack_settings
from tests.support.links import decrypt_answer, parse_link, proofs, reveal_body
from tests.support.redis_servers import RedisServer

PREVIEW_AGENTS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Microsoft Office/16.0; SafeLinks)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120 Safari/537.36",
    "curl/8.0",
]
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


async def create(served, text="hunter2", **kwargs) -> str:
    service: SecretService = served.service
    return (await service.create(text, ttl=kwargs.pop("ttl", 600), **kwargs)).link


def assert_security_headers(response: aiohttp.ClientResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "noindex" in response.headers["X-Robots-Tag"]


async def test_preview_bots_get_and_head_leave_secret_intact(served):
    link = await create(served)
    path = parse_link(link).path
    async with aiohttp.ClientSession() as http:
        for agent in PREVIEW_AGENTS:
            for method in ("GET", "HEAD"):
                async with http.request(
                    method, served.url + path, headers={"User-Agent": agent}
                ) as response:
                    assert response.status == 200
                    assert_security_headers(response)
                    body = await response.text()
                    if method == "GET":
                        assert "<title>oncelink</title>" in body
                        assert "hunter2" not in body
        async with http.post(served.url + path, json=reveal_body(link)) as response:
            assert response.status == 200
            assert_security_headers(response)  # the answer holds ciphertext: no-store too
            assert decrypt_answer(link, await response.json()) == "hunter2"


async def test_second_reveal_gets_gone_and_only_reveal_says_so(served):
    link = await create(served, "once")
    path = parse_link(link).path
    async with aiohttp.ClientSession() as http:
        async with http.post(served.url + path, json=reveal_body(link)) as response:
            assert response.status == 200
        async with http.post(served.url + path, json=reveal_body(link)) as response:
            assert response.status == 410
            answer = await response.json()
            assert answer["error"] == "gone" and "not here" in answer["message"]
        async with http.get(served.url + path) as response:
            assert response.status == 200  # the page looks the same: see the test below
            assert "not here" not in await response.text()
            assert_security_headers(response)


async def test_a_preview_cannot_tell_a_spent_or_unknown_id_from_a_waiting_secret(served):
    """What pages.py promises: a link preview or a stranger trying ids learns nothing from
    GET or HEAD, not even whether a secret exists. Only Reveal tells."""
    waiting = parse_link(await create(served, "waiting")).secret_id
    spent_link = await create(served, "spent")
    spent = parse_link(spent_link).secret_id
    await served.service.reveal(spent, *proofs(spent_link))
    burned_link = await create(served, "burned", creator="T1:U1")
    burned = parse_link(burned_link).secret_id
    await served.service.burn(burned, "T1:U1")
    never = crypto.new_secret_id()  # the same answer as an expired one: no record
    answers = {}
    async with aiohttp.ClientSession() as http:
        for secret_id in (waiting, spent, burned, never):
            for method in ("GET", "HEAD"):
                async with http.request(method, f"{served.url}/s/{secret_id}") as response:
                    body = (await response.text()).replace(secret_id, "ID")
                    headers = {k: v for k, v in response.headers.items() if k != "Date"}
                    answers[secret_id, method] = (response.status, headers, body)
    for secret_id in (spent, burned, never):
        for method in ("GET", "HEAD"):
            assert answers[secret_id, method] == answers[waiting, method], secret_id
    assert answers[waiting, "GET"][0] == 200 and "Reveal secret" in answers[waiting, "GET"][2]


async def test_passphrase_page_asks_for_it_and_wrong_ones_count_down(served):
    link = await create(served, "guarded", passphrase="correct horse")
    path = parse_link(link).path
    async with aiohttp.ClientSession() as http:
        async with http.get(served.url + path) as response:
            assert 'id="passphrase"' in await response.text()
        async with http.post(served.url + path, json=reveal_body(link, "wrong horse")) as resp:
            assert resp.status == 403
            answer = await resp.json()
            assert answer["error"] == "wrong_passphrase" and answer["attempts_left"] == 4
            assert "4 attempts left" in answer["message"]
        async with http.post(served.url + path, json=reveal_body(link, "correct horse")) as resp:
            assert resp.status == 200
            assert decrypt_answer(link, await resp.json(), "correct horse") == "guarded"


async def test_truncated_key_is_refused_as_broken_link_and_secret_survives(served):
    link = await create(served, "still here")
    parts = parse_link(link)
    mangled = link[:-1] + ("A" if link[-1] != "A" else "B")
    async with aiohttp.ClientSession() as http:
        try:
            body = reveal_body(mangled)
        except ValueError:  # non-canonical last char: flip a middle character instead
            mangled = link[:-5] + ("A" if link[-5] != "A" else "B") + link[-4:]
            body = reveal_body(mangled)
        async with http.post(served.url + parts.path, json=body) as response:
            assert response.status == 403
            assert (await response.json())["error"] == "broken_link"
        async with http.post(served.url + parts.path, json=reveal_body(link)) as response:
            assert response.status == 200


class SpyStore:
    """Records whether anything a request did reached the store. The app's own background
    work (the expiry sweep's purge and claim, which may run at any moment) is not recorded."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in ("close", "purge_expired", "claim_due"):
            return attr

        def spy(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return spy


@pytest.mark.parametrize(
    "bad_id",
    ["abc", "AAECAwQFBgcICQoLDA0OD", "AAECAwQFBgcICQoLDA0ODw==", "..%2F..%2Fetc", "x" * 300],
)
async def test_malformed_ids_get_404_without_touching_the_store(tmp_path, bad_id):
    from storage.sqlite_store import SqliteStore

    spy = SpyStore(SqliteStore(str(tmp_path / "spy.sqlite3")))
    served = await serve(make_settings(), store=spy)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{served.url}/s/{bad_id}") as response:
                assert response.status == 404
                assert_security_headers(response)
            async with http.post(
                f"{served.url}/s/{bad_id}", json={"link_proof": "x", "auth": "y"}
            ) as response:
                assert response.status == 404
        assert spy.calls == []
    finally:
        await served.runner.cleanup()


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b"{}", b'{"link_proof": "abc", "auth": "def"}', b'{"link_proof": 1}'],
)
async def test_malformed_reveal_bodies_get_400_and_burn_nothing(served, body):
    link = await create(served, "intact")
    path = parse_link(link).path
    async with aiohttp.ClientSession() as http:
        async with http.post(
            served.url + path, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "bad_request"
        async with http.post(served.url + path, json=reveal_body(link)) as response:
            assert response.status == 200


async def test_oversized_reveal_body_gets_413_with_or_without_length(served):
    link = await create(served, "intact")
    path = parse_link(link).path

    async def chunks():
        for _ in range(64):
            yield b"x" * 1024

    async with aiohttp.ClientSession() as http:
        async with http.post(served.url + path, data=b"{" + b" " * 5000 + b"}") as response:
            assert response.status == 413
        async with http.post(served.url + path, data=chunks()) as response:
            assert response.status == 413
        async with http.post(served.url + path, json=reveal_body(link)) as response:
            assert response.status == 200


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_reveal_body_arriving_in_pieces_is_read_whole(served, chunked):
    """Proxies and slow networks may deliver the body in several segments, after the head."""
    link = await create(served, "in pieces")
    body = json.dumps(reveal_body(link)).encode()
    pieces = [body[:1], body[1:30], body[30:]]
    host, port = served.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n"
        b"Connection: close\r\n\r\n" % (parse_link(link).path.encode(), framing)
    )
    for piece in pieces:
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
    if chunked:
        writer.write(b"0\r\n\r\n")
    answer = await reader.read()
    writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    if b"transfer-encoding: chunked" in head.lower():
        payload = b"".join(payload.split(b"\r\n")[1::2])
    assert decrypt_answer(link, json.loads(payload)) == "in pieces"


async def test_health_static_and_unknown_routes(served):
    async with aiohttp.ClientSession() as http:
        async with http.get(served.url + "/healthz") as response:
            assert response.status == 200
        async with http.get(served.url + "/readyz") as response:
            assert response.status == 200
        for name, kind in (("reveal.js", "text/javascript"), ("reveal.css", "text/css")):
            async with http.get(f"{served.url}/static/{name}") as response:
                assert response.status == 200 and response.content_type == kind
        async with http.get(served.url + "/static/../bot/config.py") as response:
            assert response.status == 404
        async with http.get(served.url + "/nowhere") as response:
            assert response.status == 404
            assert_security_headers(response)
            assert "Traceback" not in await response.text()


async def test_page_assets_are_small():
    from importlib import resources

    from bot import pages

    static = resources.files("bot") / "static"
    total = (
        len(pages.secret_page("AAECAwQFBgcICQoLDA0ODw", True).encode())
        + len((static / "reveal.js").read_bytes())
        + len((static / "reveal.css").read_bytes())
    )
    assert total < 20 * 1024


async def test_hsts_only_when_public_url_is_https(tmp_path):
    from storage.sqlite_store import SqliteStore

    for public_url, expect in (("https://secrets.example.com", True), ("http://x.test", False)):
        app = create_app(
            make_settings(public_url=public_url),
            store=SqliteStore(str(tmp_path / f"{expect}.sqlite3")),
        )
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/healthz")
            assert ("Strict-Transport-Security" in response.headers) is expect


async def test_store_outage_gives_calm_503s_and_recovery_needs_no_restart(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    served = await serve(make_settings(), store=RedisStore.from_url(server.url))
    try:
        link = await create(served, "survives outage")
        path = parse_link(link).path
        server.kill()
        async with aiohttp.ClientSession() as http:
            async with http.get(served.url + path) as response:
                assert response.status == 503
                text = await response.text()
                assert "Temporarily unavailable" in text and "Traceback" not in text
            async with http.post(served.url + path, json=reveal_body(link)) as response:
                assert response.status == 503
                assert (await response.json())["error"] == "unavailable"
            async with http.get(served.url + "/readyz") as response:  # not ready: no store
                assert response.status == 503
            async with http.get(served.url + "/healthz") as response:  # but alive
                assert (response.status, await response.text()) == (200, "ok\n")
            server.start()  # nothing persisted: a new secret must work without an app restart
            link = await create(served, "after recovery")
            async with http.get(served.url + "/readyz") as response:
                assert response.status == 200
            async with http.post(
                served.url + parse_link(link).path, json=reveal_body(link)
            ) as response:
                assert response.status == 200
    finally:
        await served.runner.cleanup()
        server.kill()


def test_the_reveal_answer_is_what_json_would_write():
    """The answer is formatted directly for speed; it must stay valid JSON, byte for byte."""
    from bot.service import RevealedSecret
    from bot.web import _revealed_json

    for size in (0, 1, 2, 3, 100, 10_000):
        revealed = RevealedSecret(1, os.urandom(12), os.urandom(size))
        fields = {
            "version": revealed.version,
            "nonce": crypto.b64encode(revealed.nonce),
            "ciphertext": crypto.b64encode(revealed.ciphertext),
        }
        assert _revealed_json(revealed) == json.dumps(fields).encode()


@pytest.mark.parametrize(
    "body",
    [b"[" * 1000, b'{"":' * 255, b"{" + b'"link_proof": [' * 60, b"[" * 1000 + b"]" * 24],
    ids=["brackets", "nested-objects", "nested-field", "unbalanced"],
)
async def test_deeply_nested_reveal_bodies_get_400_without_a_traceback(served, body, caplog):
    caplog.set_level(logging.DEBUG)
    link = await create(served, "intact")
    path = parse_link(link).path
    async with aiohttp.ClientSession() as http:
        async with http.post(served.url + path, data=body) as response:
            assert response.status == 400
            answer = await response.json()
            assert answer["error"] == "bad_request" and answer["message"]
        async with http.post(served.url + path, data=b"[" * 100_000) as response:
            assert response.status == 413  # refused for its size before it is parsed
            assert (await response.json())["error"] == "too_large"
        async with http.post(served.url + path, data=b'{"a":' * 20_000) as response:
            assert response.status == 413
            assert (await response.json())["error"] == "too_large"
        async with http.post(served.url + path, json=reveal_body(link)) as response:
            assert response.status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert "RecursionError" not in caplog.text


async def test_the_largest_message_shortcut_slack_sends_is_accepted(store, fake_slack):
    """40,000 characters (Slack's message text limit) outside the BMP, in `message.text` and
    again in its rich_text block: each is a JSON surrogate pair, form-encoded as 16 bytes.
    The reveal POST keeps its own small limit."""
    served = await serve(slack_settings(fake_slack), store=store)
    try:
        text = ("😀" + "𠀀") * 20_000  # an emoji and a CJK Extension B character, 4 bytes each
        data = payload("message_action", response_url=fake_slack.response_url("big"))
        data["message"]["text"] = text
        data["message"]["blocks"] = [
            {
                "type": "rich_text",
                "block_id": "Bx1",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                ],
            }
        ]
        body = interactive_body(data)
        assert len(body) > 1.2 * 1024 * 1024  # 40,000 x 16 bytes, twice: 5 times the old limit
        status, _ = await SlackHarness(served, fake_slack).send(body)
        assert status == 200
        # The shortcut ran: too long for the form, it is refused whole rather than cut.
        (refusal,) = await fake_slack.wait_for("response_url")
        assert "40,000 characters long" in refusal["text"]
        too_big = "payload=" + "x" * MAX_SLACK_BODY
        status, _ = await SlackHarness(served, fake_slack).send(too_big)
        assert status == 413
        link = await create(served, "intact")
        path = parse_link(link).path
        async with aiohttp.ClientSession() as http:
            async with http.post(served.url + path, data=b"{" + b" " * 2000 + b"}") as response:
                assert response.status == 413
            async with http.post(served.url + path, json=reveal_body(link)) as response:
                assert response.status == 200
    finally:
        await served.runner.cleanup()


async def test_a_reveal_cut_off_after_redis_ran_it_claims_nothing_it_does_not_know(tmp_path):
    """Redis busy (DEBUG SLEEP) when the reveal arrives: the app's store deadline ends the
    wait and answers 503, then Redis runs the queued reveal and deletes the secret. The
    answer must not have said that nothing was revealed or deleted."""
    server = RedisServer(tmp_path, "--enable-debug-command", "yes")
    server.start()
    served = await serve(make_settings(), store=RedisStore.from_url(server.url))
    sleeper = None
    try:
        link = await create(served, "cut off")
        secret_id = parse_link(link).secret_id
        warm_up = await create(served, "loads the reveal script into this fresh Redis")
        await served.service.reveal(parse_link(warm_up).secret_id, *proofs(warm_up))
        # Long enough that the reveal still meets a busy Redis on a loaded machine.
        sleeper = subprocess.Popen(
            ["redis-cli", "-p", str(server.port), "DEBUG", "SLEEP", "5"],
            stdout=subprocess.DEVNULL,
        )
        await _until_redis_stops_answering(server.port)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                served.url + parse_link(link).path, json=reveal_body(link)
            ) as response:
                assert response.status == 503
                answer = await response.json()
        await asyncio.to_thread(sleeper.wait)
        with pytest.raises(SecretGone):  # Redis ran the reveal after the app gave up
            await served.service.status(secret_id)
        message = answer["message"]
        assert answer["error"] == "unavailable"
        assert "nothing was revealed" not in message.lower()
        assert "deleted" in message and "try again" in message
    finally:
        if sleeper is not None and sleeper.poll() is None:
            sleeper.kill()
        await served.runner.cleanup()
        server.kill()


async def _until_redis_stops_answering(port: int) -> None:
    """Returns once a PING goes unanswered for 0.3 s: the server is inside DEBUG SLEEP."""
    for _ in range(100):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PING\r\n")
        try:
            async with asyncio.timeout(0.3):
                await reader.readline()
        except TimeoutError:
            return
        finally:
            writer.close()
    raise AssertionError("redis kept answering")


async def test_an_unexpected_failure_is_a_calm_page_that_claims_nothing(store, caplog):
    """A failure no branch expected, here after the store ran the reveal: the person gets a
    calm 500 page with the security headers, no traceback, and no claim that nothing was
    deleted (it was); the log names the route, never the secret's id."""
    served = await serve(make_settings(), store=store)
    try:
        link = await create(served, "unexpected")
        service: SecretService = served.service
        reveal = service.reveal

        async def reveal_then_fail(*args, **kwargs):
            await reveal(*args, **kwargs)
            raise RuntimeError("a bug after the reveal")

        service.reveal = reveal_then_fail
        path = parse_link(link).path
        with caplog.at_level(logging.DEBUG):
            async with aiohttp.ClientSession() as http:
                async with http.post(served.url + path, json=reveal_body(link)) as response:
                    page = await response.text()
                    assert response.status == 500
                    assert_security_headers(response)
        assert "Something went wrong" in page
        assert "Traceback" not in page and "RuntimeError" not in page
        assert "Nothing was" not in page and "nothing was" not in page
        secret_id = path.rsplit("/", 1)[1]
        assert all(secret_id not in record.getMessage() for record in caplog.records)
        assert any("unhandled error" in record.getMessage() for record in caplog.records)
    finally:
        await served.runner.cleanup()
