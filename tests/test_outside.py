"""Asking someone outside Slack for a secret, end to end through the strict fake Slack and
Chromium: the upload link reaches the requester alone, the page seals in the browser, and
the answer opens for the requester only, once."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from cryptography.exceptions import InvalidTag
from redis.asyncio import Redis

from bot import crypto
from bot.config import Limit
from bot.outside import OutsideRequestGone
from handlers import outside
from handlers.messages import OUTSIDE_CLOSED
from storage import redis_record
from storage.redis_store import RedisStore, record_key
from tests.slack_harness import SlackHarness
from tests.support.links import post_reveal
from tests.support.outside import post_answer, sealed_answer
from tests.test_at_rest import store_bytes
from tests.test_compose_slack import debug_everywhere, everything_slack_received
from tests.test_slack_extras import button, shown_secret

REQUESTER = "U2147483697"  # who sends commands in the payload fixtures
MALLORY = "UMALLORY1"
# `/r/{id}#{u}.{Q}`: the upload key and the requester's public key (docs/SECURITY.md).
UPLOAD = re.compile(
    r"https?://[^\s|>]+/r/([A-Za-z0-9_-]{22})#([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{87})"
)
CANARY = "VENDOR-KEY-CANARY-typed-outside-slack"


async def ask_outside(slack: SlackHarness, note: str = '"vendor key"') -> tuple[str, dict]:
    """`/secret request --outside …`: the upload link (in the requester's ephemeral answer,
    in its blocks only) and the requester's DM with the Reveal button."""
    hooks, dms = len(slack.fake.of("response_url")), len(slack.fake.of("chat.postMessage"))
    status, _ = await slack.command(f"request --outside {note}")
    assert status == 200
    shown = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    assert not UPLOAD.search(shown["text"])  # notifications never carry the link
    found = UPLOAD.search(json.dumps(shown["blocks"]))
    assert found, shown
    assert "once" in json.dumps(shown["blocks"])
    dm = (await slack.fake.wait_for("chat.postMessage", dms + 1))[-1]
    assert dm["channel"] == REQUESTER
    return found.group(0), dm


async def send_in_page(page, upload_link: str, *, text: str = "", file=None) -> None:
    await page.goto(upload_link)
    if text:
        await page.get_by_label("Secret").fill(text)
    if file is not None:
        await page.locator("#file").set_input_files(str(file))
    await page.get_by_role("button", name="Send securely").click()
    await page.locator("#message.ok").wait_for(timeout=60_000)
    assert "Delivered" in await page.locator("#message").inner_text()


async def click_reveal(slack: SlackHarness, dm: dict, user: str, hook: str) -> None:
    await slack.click(outside.REVEAL_ACTION, button(dm, outside.REVEAL_ACTION)["value"], user, hook)
    await slack.settle()


async def test_an_outside_text_answer_reveals_once_for_the_requester_alone(slack, page, caplog):
    debug_everywhere(caplog)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    upload_link, dm = await ask_outside(slack)
    request_id, key, public = UPLOAD.search(upload_link).groups()

    # The page: strict headers, no inline script, the note escaped and shown.
    response = await page.request.get(upload_link)
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script>" not in await response.text()
    await page.goto(upload_link)
    assert await page.locator("#note").inner_text() == "vendor key"
    await send_in_page(page, upload_link, text=CANARY)
    assert requested and all(url.startswith(slack.served.url + "/") for url in requested)
    assert "#" not in page.url  # the key left the address bar

    # The requester hears of it; the answer waits as a secret bound to them.
    await slack.settle()
    told = [m for m in slack.fake.of("chat.postMessage") if m["channel"] == REQUESTER]
    assert "answered" in told[-1]["text"]

    # A second upload on the same link is refused, before its body is read.
    status, answer = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"again")
    )
    assert (status, answer["error"]) == (410, "gone")
    again = await page.context.new_page()
    assert (await again.goto(upload_link)).status == 404
    assert "used" in await again.locator("h1").inner_text()

    # A stranger clicking a copy of the button is refused, and nothing is used up; nor does
    # the key in a link open it (the answer is bound to the requester).
    await click_reveal(slack, dm, MALLORY, "mallory")
    assert "someone else" in slack.fake.of("response_url")[-1]["text"]
    assert not slack.fake.of("views.open")
    value = json.loads(button(dm, outside.REVEAL_ACTION)["value"])
    await slack.click(outside.REVEAL_ACTION, json.dumps({**value, "r": MALLORY}), MALLORY, "m2")
    await slack.settle()
    assert "someone else" in json.dumps(slack.fake.of("views.update")[-1]["view"])
    assert (await slack.service.status(request_id)).attempts_left == 5
    status, _ = await post_reveal(slack.served.url, f"{slack.served.url}/s/{request_id}#{key}")
    assert status == 403
    assert (await slack.service.status(request_id)).attempts_left == 5

    # The requester sees exactly that secret, once.
    await click_reveal(slack, dm, REQUESTER, "mine")
    assert shown_secret(slack.fake.of("views.update")[-1]["view"]) == CANARY
    assert slack.fake.of("response_url")[-1]["replace_original"] is True  # key out of Slack
    await click_reveal(slack, dm, REQUESTER, "twice")
    last = slack.fake.of("views.update")[-1]["view"]
    assert "gone" in json.dumps(last) and not shown_secret(last)
    assert len([v for v in slack.fake.of("views.update") if shown_secret(v["view"])]) == 1

    # Slack received the text only in the requester's own Reveal answer, and the key only
    # in what went to the requester; the log holds neither.
    for call in slack.fake.calls:
        params = json.dumps(call.params)
        if CANARY in params:
            assert call.method == "views.update"
        if key in params or public in params:
            assert call.method == "response_url" or call.params.get("channel") == REQUESTER
    assert CANARY not in caplog.text and key not in caplog.text and request_id not in caplog.text
    assert public not in caplog.text


async def test_an_outside_file_answer_opens_once_in_the_requesters_browser(
    slack, page, tmp_path, caplog
):
    debug_everywhere(caplog)
    upload_link, dm = await ask_outside(slack, "kubeconfig for staging")
    request_id, key, public = UPLOAD.search(upload_link).groups()
    data = b"FILE-CANARY-" + os.urandom(300 * 1024)
    path = tmp_path / "staging.kubeconfig"
    path.write_bytes(data)
    await send_in_page(page, upload_link, file=path)
    await slack.settle()

    # The upload link's key alone (the outside person's, or a mail reader's) opens nothing.
    status, _ = await post_reveal(slack.served.url, f"{slack.served.url}/s/{request_id}#{key}")
    assert status == 403
    # A stranger's click is refused and nothing is used up.
    await click_reveal(slack, dm, MALLORY, "mallory")
    assert "someone else" in slack.fake.of("response_url")[-1]["text"]
    # The requester's click turns the message into the file's one-time link.
    await click_reveal(slack, dm, REQUESTER, "mine")
    message = slack.fake.of("response_url")[-1]
    assert message["replace_original"] is True
    link = re.search(r"<(http[^>]+/s/[^>]+)>", json.dumps(message["blocks"])).group(1)
    assert link not in message["text"]
    reveal = await page.context.new_page()
    await reveal.goto(link)
    await reveal.get_by_role("button", name="Reveal secret").click()
    await reveal.locator("#file-result").wait_for(state="visible", timeout=60_000)
    assert await reveal.locator("#file-name").inner_text() == "staging.kubeconfig"
    async with reveal.expect_download() as waiting:
        await reveal.get_by_role("button", name="Download").click()
    saved = tmp_path / "saved"
    await (await waiting.value).save_as(str(saved))
    assert saved.read_bytes() == data
    twice = await page.context.new_page()
    await twice.goto(link)
    await twice.get_by_role("button", name="Reveal secret").click()
    await twice.locator("#message.error").wait_for()
    seen = everything_slack_received(slack).encode()
    assert data[-48:] not in seen and b"FILE-CANARY" not in seen
    logged = caplog.text
    private = json.loads(button(dm, outside.REVEAL_ACTION)["value"])["d"]
    for needle in (key, public, private, request_id, "staging.kubeconfig", "FILE-CANARY"):
        assert needle not in logged


async def test_outside_answers_leave_no_plaintext_bytes_or_key_in_a_store_dump(slack, tmp_path):
    upload_link, _ = await ask_outside(slack)
    _, key, _ = UPLOAD.search(upload_link).groups()
    status, _ = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, CANARY.encode())
    )
    assert status == 200
    file_link, dm = await ask_outside(slack, "a file")
    data = b"FILE-CANARY-" + os.urandom(64 * 1024)
    plaintext = crypto.file_plaintext("secret-name.pem", "text/x-canary", data)
    status, _ = await post_answer(
        slack.served.url, file_link, sealed_answer(file_link, plaintext, "file")
    )
    assert status == 200
    private = json.loads(button(dm, outside.REVEAL_ACTION)["value"])["d"]
    blob = await store_bytes(slack.service._store, tmp_path)
    for clear in (CANARY, key, UPLOAD.search(file_link).group(2), private, "secret-name.pem"):
        assert clear.encode() not in blob
    assert data[-64:] not in blob


async def raw_record(store, secret_id: str, tmp_path) -> tuple[bytes, bytes]:
    """(nonce, ciphertext) as a copy of the store holds them: the Redis key read by a client
    of its own, or the SQLite row read from a copy of the file (with its WAL)."""
    if isinstance(store, RedisStore):
        url = store._redis.connection_pool.connection_kwargs
        client = Redis(host=url["host"], port=url["port"], db=url.get("db", 0))
        try:
            raw = await client.get(record_key(secret_id))
        finally:
            await client.aclose()
        record, _ = redis_record.unpack(secret_id, raw)
        return record.nonce, record.ciphertext
    source = Path(store._path)
    copy = tmp_path / "copy.sqlite3"
    for part in source.parent.glob(source.name + "*"):
        shutil.copyfile(part, tmp_path / ("copy.sqlite3" + part.name[len(source.name) :]))
    with closing(sqlite3.connect(copy)) as db:
        nonce, ciphertext = db.execute(
            "SELECT nonce, ciphertext FROM secrets WHERE id = ?", (secret_id,)
        ).fetchone()
    return bytes(nonce), bytes(ciphertext)


def keys_an_upload_link_gives(upload_link: str, request_id: str) -> list[bytes]:
    """Every AES key someone who read the upload link can make from its fragment: each
    32-byte part as protocol v1's link key (the old sealing), raw, through this protocol's
    label, and as if it were a P-256 private key against the answer's ephemeral key (below);
    each 65-byte part (the public key) through the same labels."""
    keys = []
    for part in urlsplit(upload_link).fragment.split("."):
        for length in (32, 65):
            try:
                material = crypto.b64decode(part, length)
            except ValueError:
                continue
            keys.append(crypto.derive_keys(material, b"", request_id).enc_key)
            keys.append(crypto._hkdf(material, request_id, b"outside/enc-key"))
            if length == 32:
                keys.append(material)
    return keys


async def test_the_upload_link_and_a_copy_of_the_store_together_open_no_answer(slack, tmp_path):
    """The reviewer's attack: someone who read the upload link (the mail it went by) and has
    a copy of the store (a backup, an AOF, a replica) reads the answer's record and tries
    every key the link gives. Nothing opens, for a text or a file; the requester's `d`
    opens both, so the record read is the answer."""
    outside_desk = slack.service.outside
    data = b"FILE-CANARY-" + os.urandom(4096)
    answers = {
        "text": CANARY.encode(),
        "file": crypto.file_plaintext("vpn.ovpn", "application/x-openvpn-profile", data),
    }
    for kind, plaintext in answers.items():
        ticket = await outside_desk.open(requester=f"T1:{REQUESTER}", note=kind, ttl=3600)
        upload_link = ticket.upload_link
        request_id = urlsplit(upload_link).path.rsplit("/", 1)[-1]
        status, _ = await post_answer(
            slack.served.url, upload_link, sealed_answer(upload_link, plaintext, kind)
        )
        assert status == 200
        nonce, ciphertext = await raw_record(slack.service._store, request_id, tmp_path)
        candidates = keys_an_upload_link_gives(upload_link, request_id)
        assert candidates
        for key in candidates:
            for sealed in (ciphertext, ciphertext[65:]):  # whole, and without `E` in front
                try:
                    opened = crypto.unseal(nonce, sealed, key, request_id)
                except InvalidTag:
                    continue
                raise AssertionError(f"the upload link opened the {kind} answer: {opened!r}")
        for part in urlsplit(upload_link).fragment.split("."):
            try:
                as_private = crypto.b64decode(part, 32)
            except ValueError:
                continue
            with pytest.raises((InvalidTag, ValueError)):
                crypto.open_answer(nonce, ciphertext, as_private, request_id)
        # The requester's key, which only their Reveal button holds, opens it.
        private = crypto.b64decode(ticket.answer_key, 32)
        assert crypto.open_answer(nonce, ciphertext, private, request_id) == plaintext
        assert ticket.answer_key not in upload_link
        blob = await store_bytes(slack.service._store, tmp_path)
        assert ticket.answer_key.encode() not in blob and private not in blob


async def store_old_answer(slack: SlackHarness, requester: str, kind: str, plaintext: bytes):
    """An answer as the protocol before the requester's key stored it: sealed under
    HKDF(k), `k` in the upload link and the button, a file gated by `g`. Returns (id, k, g)."""
    from bot.outside import ANSWER_MARK, list_metadata
    from storage.base import SecretRecord

    service = slack.service
    request_id, k, g = crypto.new_secret_id(), crypto.new_link_key(), crypto.new_link_key()
    keys = crypto.derive_keys(k, b"", request_id)
    nonce, ciphertext = crypto.seal(plaintext, keys.enc_key, request_id)
    text = kind == "text"
    proof = (
        crypto.derive_holder_proof(k, request_id, requester, service._binding_key)
        if text
        else crypto.derive_link_proof(g, request_id)
    )
    now = service.now()
    record = SecretRecord(
        secret_id=request_id,
        version=1,
        nonce=nonce,
        ciphertext=ciphertext,
        link_verifier=crypto.verifier(proof),
        verifier=crypto.verifier(keys.auth),
        has_passphrase=False,
        created_at=now,
        expires_at=now + 3600,
        creator=requester,
        metadata=list_metadata("from before", ANSWER_MARK, ""),
        bound=text,
    )
    await service._store.put(f"outside-answered:{request_id}", kind.encode(), now + 3600)
    await service.store_sealed(record, track=True)
    return request_id, crypto.b64encode(k), crypto.b64encode(g)


async def test_an_outside_answer_stored_before_the_requesters_key_still_opens_for_them(
    slack, page, tmp_path
):
    _, dm = await ask_outside(slack)
    value = json.loads(button(dm, outside.REVEAL_ACTION)["value"])
    requester = f"{value['o']}:{REQUESTER}"
    old = {"r": REQUESTER, "o": value["o"]}
    # A text: the old button (`k`, `g`) opens it in Slack, for the requester alone.
    text_id, k, g = await store_old_answer(slack, requester, "text", CANARY.encode())
    button_value = json.dumps({"q": text_id, "k": k, "g": g, **old})
    await slack.click(outside.REVEAL_ACTION, button_value, MALLORY, "mallory")
    await slack.settle()
    assert "someone else" in slack.fake.of("response_url")[-1]["text"]
    await slack.click(outside.REVEAL_ACTION, button_value, REQUESTER, "old-text")
    await slack.settle()
    assert shown_secret(slack.fake.of("views.update")[-1]["view"]) == CANARY
    # A file: the old button turns into the `#k.g` link, opened in the browser.
    data = b"OLD-FILE-" + os.urandom(2048)
    plaintext = crypto.file_plaintext("old.pem", "text/plain", data)
    file_id, k, g = await store_old_answer(slack, requester, "file", plaintext)
    button_value = json.dumps({"q": file_id, "k": k, "g": g, **old})
    await slack.click(outside.REVEAL_ACTION, button_value, REQUESTER, "old-file")
    await slack.settle()
    message = slack.fake.of("response_url")[-1]
    link = re.search(r"<(http[^>]+/s/[^>]+)>", json.dumps(message["blocks"])).group(1)
    assert link.endswith(f"/s/{file_id}#{k}.{g}")
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#file-result").wait_for(state="visible")
    assert await page.locator("#file-name").inner_text() == "old.pem"
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download").click()
    saved = tmp_path / "saved"
    await (await waiting.value).save_as(str(saved))
    assert saved.read_bytes() == data


async def test_a_request_waiting_from_before_the_requesters_key_is_gone(slack, page):
    """Its upload link would seal under a key the link itself holds: refused, calmly."""
    upload_link, dm = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    key = f"outside:{request_id}"
    store = slack.service._store
    stored = json.loads(await store.get(key, slack.service.now()))
    assert stored.pop("s")
    await store.put(key, json.dumps(stored).encode(), stored["x"])
    assert (await page.goto(upload_link)).status == 404
    status, answer = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"too late")
    )
    assert (status, answer["error"]) == (410, "gone")
    await click_reveal(slack, dm, REQUESTER, "old-request")
    told = slack.fake.of("response_url")[-1]
    # Said beside the DM, never over it (a Reveal never replaces the message with the keys).
    assert not told.get("replace_original") and told["text"] == OUTSIDE_CLOSED


async def test_forged_expired_malformed_and_cancelled_upload_links_get_a_calm_page(slack, page):
    upload_link, dm = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    made_up = upload_link.replace(request_id, crypto.new_secret_id())
    for url in (made_up, slack.served.url + "/r/not-an-id", slack.served.url + "/r/" + "A" * 22):
        response = await page.goto(url)
        assert response.status == 404
        assert "used" in await page.locator("h1").inner_text()
    # Cancelled from the DM: the link stops working at once, before a body is read.
    await slack.click(outside.CANCEL_ACTION, request_id, REQUESTER, "cancel")
    await slack.settle()
    assert "cancelled" in slack.fake.of("response_url")[-1]["text"]
    assert (await page.goto(upload_link)).status == 404
    status, answer = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"late")
    )
    assert (status, answer["error"]) == (410, "gone")
    assert (await _declare_large_send_little(upload_link)).startswith(b"HTTP/1.1 410")


async def _declare_large_send_little(upload_link: str) -> bytes:
    """An upload with the link's valid proof that declares a large body and sends a few
    bytes of it: the answer's head, which must come at once (unread), not after a stall."""
    from tests.support.outside import upload_proof
    from tests.test_compose import _raw_post

    head = (
        b"POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n"
        b"X-Oncelink-Upload-Proof: " + upload_proof(upload_link).encode() + b"\r\n\r\n"
    )
    return await _raw_post(upload_link.split("#")[0], head, b'{"version": 1,')


async def test_a_page_left_open_after_its_link_was_used_is_told_calmly_and_sends_nothing(
    slack, page
):
    upload_link, _ = await ask_outside(slack)
    second = await page.context.new_page()
    await second.goto(upload_link)  # a second tab, opened before the first one sends
    await send_in_page(page, upload_link, text="the first answer")
    await second.get_by_label("Secret").fill("a second answer")
    await second.get_by_role("button", name="Send securely").click()
    await second.locator("#message.error").wait_for()
    assert "used already" in await second.locator("#message").inner_text()
    assert not await second.locator("#answer-form").is_visible()
    # A used link is refused before a byte of its body is read, whatever it declares.
    from tests.test_compose import _raw_post

    answer = await _raw_post(
        upload_link, b"POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 410")


async def test_knowing_only_the_upload_links_id_answers_nothing(slack):
    """A proxy's access log keeps whole paths: the id without the key must not answer."""
    upload_link, _ = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    body = sealed_answer(upload_link, b"from someone with the id alone")
    wrong = crypto.b64encode(os.urandom(32))
    for headers in ({"X-Oncelink-Upload-Proof": wrong}, {"X-Oncelink-Upload-Proof": "x"}):
        status, answer = await post_answer(slack.served.url, upload_link, body, headers)
        assert (status, answer["error"]) == (403, "broken_link")
    async with aiohttp.ClientSession() as http:  # no proof at all
        async with http.post(f"{slack.served.url}/r/{request_id}", data=body) as response:
            assert response.status == 403
    assert (await slack.service.outside.look(request_id)).note == "vendor key"  # still waits
    status, _ = await post_answer(slack.served.url, upload_link, body)
    assert status == 200


async def test_a_second_upload_taking_a_request_given_back_keeps_its_arriving_mark(
    slack, store, monkeypatch
):
    """Upload A stores nothing and gives the request back; before A clears its arriving
    mark, upload B takes the request (injected right there). A must leave B's mark alone:
    the requester's Reveal and Cancel still see an answer on its way, not a request that is
    over (which would replace the DM holding the only copy of the answer key). Failed on the
    old code (A deleted B's mark: answered_kind raised OutsideRequestGone)."""
    from tests.support.outside import upload_proof

    upload_link, _ = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    desk = slack.service.outside
    proof = crypto.b64decode(upload_proof(upload_link), 32)
    put = store.put
    second = []

    async def then_second_upload(key: str, value: bytes, expires_at: float | None = None) -> None:
        await put(key, value, expires_at)
        if key == f"outside:{request_id}" and not second:  # A gives the request back
            second.append(await desk.take(request_id, proof))  # and B takes it at once

    monkeypatch.setattr(store, "put", then_second_upload)
    status, answer = await post_answer(slack.served.url, upload_link, b"no head line")
    assert (status, answer["error"]) == (400, "bad_request")
    assert second  # B holds the request now
    assert await desk.answered_kind(request_id) == ""  # an answer on its way, not over
    await desk.give_back(second[0])
    assert (await desk.look(request_id)).note == "vendor key"
    status, _ = await post_answer(slack.served.url, upload_link, sealed_answer(upload_link, b"ok"))
    assert status == 200
    assert await desk.answered_kind(request_id) == "text"


async def test_a_store_failing_once_after_the_take_does_not_lose_the_request(
    slack, store, monkeypatch
):
    """The request was taken, then the store failed to keep the arriving mark: the request
    is given back at once, so the upload link still works. Failed on the old code (the
    request stayed taken: the page answered 404 and the next upload 410)."""
    from bot.errors import StoreUnavailable

    upload_link, _ = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    put = store.put
    failures = []

    async def failing_once(key: str, value: bytes, expires_at: float | None = None) -> None:
        if key.startswith("outside-arriving:") and not failures:
            failures.append(key)
            raise StoreUnavailable()
        await put(key, value, expires_at)

    monkeypatch.setattr(store, "put", failing_once)
    body = sealed_answer(upload_link, b"after one failure")
    status, answer = await post_answer(slack.served.url, upload_link, body)
    assert (status, answer["error"]) == (503, "unavailable")
    assert failures
    assert (await slack.service.outside.look(request_id)).note == "vendor key"  # given back
    status, _ = await post_answer(slack.served.url, upload_link, body)
    assert status == 200


async def test_a_store_failing_while_giving_a_request_back_is_logged_not_raised(
    slack, store, monkeypatch, caplog
):
    """An upload refused on its own (malformed) while the store cannot take the request
    back: its sender hears the refusal, and the server logs one warning, not a 503 that
    says the answer may have been delivered. Failed on the old code (503 unavailable)."""

    from bot.errors import StoreUnavailable

    upload_link, _ = await ask_outside(slack)
    put = store.put

    async def failing_restore(key: str, value: bytes, expires_at: float | None = None) -> None:
        if key.startswith("outside:"):
            raise StoreUnavailable()
        await put(key, value, expires_at)

    monkeypatch.setattr(store, "put", failing_restore)
    status, answer = await post_answer(slack.served.url, upload_link, b"no head line")
    assert (status, answer["error"]) == (400, "bad_request")
    assert "store unavailable while giving an outside request back" in caplog.text


async def test_an_upload_link_expires_with_its_request(store, fake_slack):
    """By the app's own clock, whatever the store's expiry does: the page and an upload
    are refused calmly one second past it, and the answer's expiry starts at the answer."""
    from tests.support.app import serve, slack_settings
    from tests.support.clock import FakeClock

    clock = FakeClock()
    served = await serve(slack_settings(fake_slack), store=store, clock=clock)
    slack = SlackHarness(served, fake_slack)
    try:
        late, _ = await ask_outside(slack, "too late")
        in_time, _ = await ask_outside(slack, "just in time")
        request_id = UPLOAD.search(late).group(1)
        expires_at = (await served.service.outside.look(request_id)).expires_at
        clock.advance(expires_at - clock.now - 1)
        status, _ = await post_answer(served.url, in_time, sealed_answer(in_time, b"in time"))
        assert status == 200
        clock.advance(2)
        async with aiohttp.ClientSession() as http:
            async with http.get(late.split("#")[0]) as response:
                assert response.status == 404
                assert "expired" in await response.text()
        status, answer = await post_answer(served.url, late, sealed_answer(late, b"late"))
        assert (status, answer["error"]) == (410, "gone")
        assert (await _declare_large_send_little(late)).startswith(b"HTTP/1.1 410")
        # The answer sent a second before the request's expiry waits its own full expiry.
        answered = UPLOAD.search(in_time).group(1)
        assert (await served.service.status(answered)).expires_at > clock.now + 3600
    finally:
        await served.runner.cleanup()


async def test_someone_else_cannot_cancel_a_request(slack):
    upload_link, _ = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    await slack.click(outside.CANCEL_ACTION, request_id, MALLORY, "mallory")
    await slack.settle()
    assert "Only the person who created" in slack.fake.of("response_url")[-1]["text"]
    assert (await slack.service.outside.look(request_id)).note == "vendor key"


async def test_the_requesters_list_shows_waiting_answered_cancelled_and_expired(slack):
    waiting, _ = await ask_outside(slack, "waiting one")
    answered, _ = await ask_outside(slack, "answered one")
    cancelled, _ = await ask_outside(slack, "cancelled one")
    status, _ = await post_answer(slack.served.url, answered, sealed_answer(answered, b"x"))
    assert status == 200

    async def listed() -> str:
        hooks = len(slack.fake.of("response_url"))
        await slack.command("list")
        return json.dumps((await slack.fake.wait_for("response_url", hooks + 1))[-1]["blocks"])

    shown = await listed()
    assert "waiting one" in shown and "Waiting for the answer" in shown
    assert "Answered: Reveal it in your DM" in shown
    # Cancelled from the list.
    await slack.click(
        outside.LIST_CANCEL_ACTION, UPLOAD.search(cancelled).group(1), REQUESTER, "list"
    )
    await slack.settle()
    assert "Cancelled" in json.dumps(slack.fake.of("response_url")[-1]["blocks"])
    status, _ = await post_answer(slack.served.url, cancelled, sealed_answer(cancelled, b"x"))
    assert status == 410
    # Unanswered past its expiry: listed as expired, and the requester is told, once.
    request_id = UPLOAD.search(waiting).group(1)
    expires_at = (await slack.service.outside.look(request_id)).expires_at
    dms = len(slack.fake.of("chat.postMessage"))
    assert await slack.service.sweep_expired(now=expires_at + 60) >= 1
    await slack.settle()
    told = slack.fake.of("chat.postMessage")[dms:]
    expired = [m for m in told if "expired unanswered" in json.dumps(m["blocks"])]
    assert len(expired) == 1 and expired[0]["channel"] == REQUESTER
    assert "waiting one" in json.dumps(expired[0]["blocks"])
    # The answer nobody opened expired too: told once, in words of its own.
    unopened = [m for m in told if "expired unopened" in json.dumps(m["blocks"])]
    assert len(unopened) == 1 and "answered one" in json.dumps(unopened[0]["blocks"])
    assert not any("expired unread" in json.dumps(m.get("blocks", [])) for m in told)
    assert "Expired unanswered" in await listed()


async def test_the_request_form_offers_someone_outside_slack(slack):
    view = await slack.open_modal("request")
    assert "Someone outside Slack" in json.dumps(view)
    hooks = len(slack.fake.of("response_url"))
    values = {
        "ask_block": {"ask_select": {"type": "users_select", "selected_user": None}},
        "outside_block": {
            "outside_check": {
                "type": "checkboxes",
                "selected_options": [
                    {"value": "outside", "text": {"type": "plain_text", "text": "x"}}
                ],
            }
        },
        "note_block": {"note_input": {"type": "plain_text_input", "value": "VPN file"}},
    }
    metadata = json.dumps({"response_url": slack.fake.response_url("form")})
    # Someone in Slack and someone outside it at once: the form says to choose.
    both = {**values, "ask_block": {"ask_select": {"type": "users_select", "selected_user": "UB1"}}}
    status, answer = await slack.submit_view("request_secret_modal", both, metadata, REQUESTER)
    assert status == 200 and "not both" in json.loads(answer)["errors"]["outside_block"]
    status, _ = await slack.submit_view("request_secret_modal", values, metadata, REQUESTER)
    assert status == 200
    shown = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    assert UPLOAD.search(json.dumps(shown["blocks"]))
    await slack.settle()
    assert len(slack.fake.of("response_url")) == hooks + 1  # the refused one sent nothing


async def test_upload_links_count_against_the_creation_limit(store, fake_slack):
    from tests.support.app import serve, slack_settings

    settings = slack_settings(fake_slack, rate_limit_create=Limit(2, 3600))
    served = await serve(settings, store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        await ask_outside(slack)
        await ask_outside(slack)
        status, answer = await slack.command("request --outside third")
        assert status == 200 and "many secrets" in answer
        await slack.settle()
        assert len(fake_slack.of("chat.postMessage")) == 2
    finally:
        await served.runner.cleanup()


async def test_an_upload_over_the_limit_is_refused_unread_and_leaves_the_link_usable(slack):
    upload_link, _ = await ask_outside(slack)
    limit = slack.service.outside.max_upload + 2048
    status, answer = await post_answer(
        slack.served.url, upload_link, b"x" * 16, {"Content-Length": str(limit)}
    )
    assert (status, answer["error"]) == (413, "too_large")

    async def chunks():
        for _ in range(limit // (1 << 20) + 2):
            yield b"\0" * (1 << 20)

    status, answer = await post_answer(slack.served.url, upload_link, chunks())
    assert (status, answer["error"]) == (413, "too_large")
    status, _ = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"still works")
    )
    assert status == 200


async def test_failed_uploads_are_limited_per_address_and_never_block_a_valid_one(
    store, fake_slack
):
    from tests.support.app import serve, slack_settings

    served = await serve(slack_settings(fake_slack, rate_limit_reveal=Limit(5, 3600)), store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        upload_link, _ = await ask_outside(slack)
        made_up = upload_link.replace(UPLOAD.search(upload_link).group(1), "B" * 22)
        statuses = [
            (await post_answer(served.url, made_up, sealed_answer(made_up, b"x")))[0]
            for _ in range(8)
        ]
        assert statuses == [410] * 5 + [429] * 3
        status, _ = await post_answer(served.url, upload_link, sealed_answer(upload_link, b"valid"))
        assert status == 200
    finally:
        await served.runner.cleanup()


async def test_the_store_takes_one_answer_of_many_at_once(slack):
    import asyncio

    upload_link, _ = await ask_outside(slack)
    body = sealed_answer(upload_link, b"racing")
    results = await asyncio.gather(
        *(post_answer(slack.served.url, upload_link, body) for _ in range(20))
    )
    assert sorted(status for status, _ in results) == [200] + [410] * 19
    request_id = UPLOAD.search(upload_link).group(1)
    try:
        await slack.service.outside.look(request_id)
        raise AssertionError("the request still waits")
    except OutsideRequestGone:
        pass


def test_the_note_is_escaped_on_the_page():
    from bot import pages

    page = pages.outside_page("A" * 22, "<script>alert(1)</script>&", max_file_size=1024)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_logs_cut_request_ids_short():
    from bot.web import redact_path

    assert redact_path("/r/" + "A" * 22) == "/r/AAAAAA…"


# ---- What one upload can cost the server ---------------------------------------------------


def _page_of(upload_link: str) -> str:
    return upload_link.split("#")[0]


STALLED_LENGTH = 10_000_000  # near the upload page's limit, under it


async def _stall_answer(upload_link: str):
    """An upload with a valid proof that declares a file near the limit, sends a little,
    then waits: the open connection (close it to hang up)."""
    from tests.support.outside import upload_proof
    from tests.test_compose import _stall

    proof = {"X-Oncelink-Upload-Proof": upload_proof(upload_link)}
    return await _stall(_page_of(upload_link), proof, STALLED_LENGTH)


async def test_stalled_uploads_to_one_upload_link_hold_one_buffer_and_are_cut_off(
    store, fake_slack, monkeypatch
):
    import asyncio

    from bot import uploads
    from tests.support.app import serve, slack_settings
    from tests.support.outside import upload_proof
    from tests.test_compose import STALLED_HEAD, _raw_post, _until_page_status

    monkeypatch.setattr(uploads, "CHUNK_SECONDS", 0.5)
    served = await serve(slack_settings(fake_slack, rate_limit_reveal=Limit(3, 60)), store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        upload_link, _ = await ask_outside(slack)
        page = _page_of(upload_link)
        reader, writer = await _stall_answer(upload_link)
        await _until_page_status(page, 404)  # taken by the first upload, before its body
        # Every other upload with the same valid proof is refused at once, unread: one link
        # never makes the server hold more than one file.
        proof = f"X-Oncelink-Upload-Proof: {upload_proof(upload_link)}\r\n".encode()
        head = STALLED_HEAD.replace(b"Host: x\r\n", b"Host: x\r\n" + proof)
        head = head.replace(b"10490000", str(STALLED_LENGTH).encode())
        # They hear 409 in_use, to try again (the first may give the request back), and
        # are not counted as failures: 20 of them stay under a failure limit of 3.
        others = await asyncio.gather(
            *(asyncio.wait_for(_raw_post(page, head, b"{}"), 5) for _ in range(20))
        )
        assert all(answer.startswith(b"HTTP/1.1 409") for answer in others)
        # Someone with the id alone (a wrong proof) hears only that the link is gone.
        wrong = head.replace(
            upload_proof(upload_link).encode(), crypto.b64encode(os.urandom(32)).encode()
        )
        assert (await asyncio.wait_for(_raw_post(page, wrong, b"{}"), 5)).startswith(
            b"HTTP/1.1 410"
        )
        # The stalled one is answered once its next chunk is late, and gives the link back.
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")
        await _until_page_status(page, 200)
        status, _ = await post_answer(served.url, upload_link, sealed_answer(upload_link, b"ok"))
        assert status == 200
    finally:
        await served.runner.cleanup()


async def test_uploads_beyond_the_per_process_cap_are_told_to_try_again_on_every_route(
    store, fake_slack, monkeypatch
):
    """One cap for the compose page, the upload page and the API: memory is per process."""
    from bot import uploads
    from tests.support.app import serve, slack_settings
    from tests.support.compose import upload
    from tests.test_compose import _page_status, _stall, _until_page_status, compose_link
    from tests.test_tokens import api_body, api_post, ask_for_token

    monkeypatch.setattr(uploads, "UPLOADS_AT_ONCE", 2)
    served = await serve(slack_settings(fake_slack), store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        token = await ask_for_token(slack)
        held, _ = await ask_outside(slack, "held")
        waiting, _ = await ask_outside(slack, "waiting")
        links = [await compose_link(served) for _ in range(2)]
        stalled = [await _stall_answer(held), await _stall(links[0])]
        await _until_page_status(_page_of(held), 404)
        await _until_page_status(links[0], 404)
        status, answer = await post_answer(served.url, waiting, sealed_answer(waiting, b"x"))
        assert (status, answer["error"]) == (503, "busy")
        assert await _page_status(_page_of(waiting)) == 200  # given back at once
        status, answer, _ = await upload(links[1], served.url, b"x", ttl=3600)
        assert (status, answer["error"]) == (503, "busy")
        status, _, answer = await api_post(served.url, api_body(10), token)
        assert (status, answer["error"]) == (503, "busy")
        for _, writer in stalled:
            writer.close()  # hang up: the uploads end and give their links back
        await _until_page_status(_page_of(held), 200)
        await _until_page_status(links[0], 200)
        status, _ = await post_answer(served.url, waiting, sealed_answer(waiting, b"room now"))
        assert status == 200
        assert (await api_post(served.url, api_body(10), token))[0] == 201
    finally:
        await served.runner.cleanup()


async def test_slow_uploads_of_one_creator_leave_a_place_for_another_person(
    store, fake_slack, monkeypatch
):
    """Uploads to one person's links (compose links of one creator, an upload link of the
    same requester) take one place at the gate between them, however slowly they trickle:
    another person's upload still finds room. Failed on the old code, where only the API
    named a holder (the second compose upload took the last place: the API answered 503)."""
    import asyncio

    from bot import uploads
    from bot.compose import ComposeGrant
    from tests.support.app import serve, slack_settings
    from tests.support.compose import upload
    from tests.test_compose import _page_status, _stall, _until_page_status, compose_link
    from tests.test_tokens import api_body, api_post, ask_for_token

    monkeypatch.setattr(uploads, "UPLOADS_AT_ONCE", 2)
    served = await serve(slack_settings(fake_slack), store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        token = await ask_for_token(slack, user="U0000OTHER")
        upload_link, _ = await ask_outside(slack)
        request_id = _page_of(upload_link).rsplit("/", 1)[-1]
        requester = (await served.service.outside.look(request_id)).requester
        grant = ComposeGrant(requester, "{}", (3600,), 3600)
        links = [await compose_link(served, grant) for _ in range(3)]
        first = await _stall(links[0])
        await _until_page_status(links[0], 404)
        # The same person's other uploads are told to try again, and give their link back.
        status, answer, _ = await upload(links[1], served.url, b"x", ttl=3600)
        assert (status, answer["error"]) == (503, "busy")
        assert await _page_status(links[1]) == 200
        status, answer = await post_answer(
            served.url, upload_link, sealed_answer(upload_link, b"x")
        )
        assert (status, answer["error"]) == (503, "busy")
        # Another person's upload finds the place the first person could not take.
        status, _, answer = await api_post(served.url, api_body(10), token)
        assert status == 201, answer
        first[1].close()
        await asyncio.wait_for(_until_page_status(links[0], 200), 10)
        status, _, _ = await upload(links[2], served.url, b"my turn now", ttl=3600)
        assert status == 200
    finally:
        await served.runner.cleanup()


async def test_a_trickling_upload_is_cut_off_below_the_lowest_rate(store, monkeypatch):
    """A sender that sends a byte well inside each chunk deadline is cut off (408
    `too_slow`) once the grace is over and its average is below the lowest rate, instead
    of holding its place for the whole-body deadline. Failed on the old code (no rate: the
    trickle was still held when the wait below ran out)."""
    import asyncio

    from bot import uploads
    from tests.support.app import make_settings, serve
    from tests.test_compose import _stall, compose_link

    monkeypatch.setattr(uploads, "RATE_GRACE_SECONDS", 0.3)
    served = await serve(make_settings(), store=store)
    try:
        reader, writer = await _stall(await compose_link(served))

        async def trickle() -> None:
            while not writer.is_closing():
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)

        sending = asyncio.create_task(trickle())
        try:
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        finally:
            writer.close()
            sending.cancel()
        assert answer.startswith(b"HTTP/1.1 408")
        body = await asyncio.wait_for(reader.read(), 5)
        assert b"too_slow" in body
    finally:
        await served.runner.cleanup()


async def test_a_sender_hanging_up_mid_upload_to_an_upload_link_leaves_one_calm_line(slack, caplog):
    import logging

    from tests.test_compose import _until_page_status

    caplog.set_level(logging.INFO)
    upload_link, _ = await ask_outside(slack)
    _, writer = await _stall_answer(upload_link)
    await _until_page_status(_page_of(upload_link), 404)
    writer.close()
    await _until_page_status(_page_of(upload_link), 200)  # given back: the page can try again
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert "upload cut off: the sender hung up before the end of its body" in lines
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert UPLOAD.search(upload_link).group(2) not in caplog.text


# ---- The requester's DM holds the only copy of the keys ------------------------------------


def _hook_messages(slack: SlackHarness, hook: str) -> list[dict]:
    path = f"/response/{hook}"
    return [c.params for c in slack.fake.calls if c.method == "response_url" and c.path == path]


async def test_cancel_in_the_app_home_republishes_the_tab_showing_it_cancelled(slack):
    upload_link, _ = await ask_outside(slack, "from the home tab")
    request_id = UPLOAD.search(upload_link).group(1)
    published = len(slack.fake.of("views.publish"))
    await slack.click(outside.LIST_CANCEL_ACTION, request_id, REQUESTER, "home", "view")
    await slack.settle()
    views = slack.fake.of("views.publish")[published:]
    assert views and "Cancelled" in json.dumps(views[-1]["view"])
    status, answer = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"x")
    )
    assert (status, answer["error"]) == (410, "gone")


async def test_cancel_after_the_answer_came_keeps_the_reveal_button(slack):
    upload_link, dm = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    status, _ = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"kept")
    )
    assert status == 200
    await slack.click(outside.CANCEL_ACTION, request_id, REQUESTER, "late-cancel")
    await slack.settle()
    told = _hook_messages(slack, "late-cancel")
    assert told and "already answered" in told[-1]["text"]
    assert not any(message.get("replace_original") for message in told)
    await click_reveal(slack, dm, REQUESTER, "then-reveal")
    assert shown_secret(slack.fake.of("views.update")[-1]["view"]) == "kept"


async def test_reveal_or_cancel_while_an_answer_arrives_never_replace_the_keys(slack):
    from tests.test_compose import _until_page_status

    upload_link, dm = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    _, writer = await _stall_answer(upload_link)
    await _until_page_status(_page_of(upload_link), 404)  # the upload holds the request
    await click_reveal(slack, dm, REQUESTER, "early-reveal")
    await slack.click(outside.CANCEL_ACTION, request_id, REQUESTER, "early-cancel")
    await slack.settle()
    revealed, cancelled = (
        _hook_messages(slack, "early-reveal"),
        _hook_messages(slack, "early-cancel"),
    )
    assert revealed and "No answer yet" in revealed[-1]["text"]
    assert cancelled and "arriving" in cancelled[-1]["text"]
    assert not any(message.get("replace_original") for message in revealed + cancelled)
    writer.close()
    await _until_page_status(_page_of(upload_link), 200)
    status, _ = await post_answer(
        slack.served.url, upload_link, sealed_answer(upload_link, b"at last")
    )
    assert status == 200


async def test_a_file_answer_opens_only_for_the_requesters_whole_identity(slack):
    """The same user id in another workspace is somebody else, for a file as for a text."""
    upload_link, dm = await ask_outside(slack)
    body = sealed_answer(upload_link, b"file bytes", kind="file")
    assert (await post_answer(slack.served.url, upload_link, body))[0] == 200
    value = button(dm, outside.REVEAL_ACTION)["value"]
    data = slack.click_payload(outside.REVEAL_ACTION, value, REQUESTER, "elsewhere")
    data["user"]["team_id"] = "T0OTHER99"
    from tests.slack_fake import interactive_body

    await slack.send(interactive_body(data))
    await slack.settle()
    told = _hook_messages(slack, "elsewhere")
    assert told and "someone else" in told[-1]["text"]
    assert "/s/" not in json.dumps(told)
    await click_reveal(slack, dm, REQUESTER, "home-team")
    assert "/s/" in json.dumps(_hook_messages(slack, "home-team")[-1]["blocks"])


# ---- The command as people type it ---------------------------------------------------------


async def test_outside_typed_on_a_phone_with_smart_punctuation_is_recognised(slack):
    """iOS turns `--` into an em dash and quotes into curly ones."""
    for typed, note in (
        ("\u2014outside \u201cvendor key\u201d", "vendor key"),
        ("\u2013outside \u2018db password\u2019", "db password"),
        ("\u2212\u2212outside \u201estaging\u201c", "staging"),
    ):
        dms = len(slack.fake.of("chat.postMessage"))
        upload_link, dm = await ask_outside_typed(slack, typed)
        assert len(slack.fake.of("chat.postMessage")) == dms + 1
        request_id = UPLOAD.search(upload_link).group(1)
        assert (await slack.service.outside.look(request_id)).note == note


async def ask_outside_typed(slack: SlackHarness, typed: str) -> tuple[str, dict]:
    hooks, dms = len(slack.fake.of("response_url")), len(slack.fake.of("chat.postMessage"))
    status, _ = await slack.command(f"request {typed}")
    assert status == 200
    shown = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    found = UPLOAD.search(json.dumps(shown["blocks"]))
    assert found, shown
    dm = (await slack.fake.wait_for("chat.postMessage", dms + 1))[-1]
    return found.group(0), dm


async def test_a_note_too_long_for_the_form_is_refused_with_a_sentence_not_cut(slack):
    from handlers.blocks import NOTE_MAX

    status, answer = await slack.command("request --outside " + "n" * (NOTE_MAX + 1))
    assert status == 200 and f"at most {NOTE_MAX}" in answer
    await slack.settle()
    assert not slack.fake.of("chat.postMessage")  # no request, no DM, no link
    upload_link, _ = await ask_outside(slack, "n" * NOTE_MAX)  # the longest that fits
    request_id = UPLOAD.search(upload_link).group(1)
    assert (await slack.service.outside.look(request_id)).note == "n" * NOTE_MAX


async def test_a_refusal_past_the_failure_limit_still_drops_the_key_from_the_address_bar(
    store, fake_slack, browser
):
    from tests.support.app import serve, slack_settings
    from tests.support.clock import FakeClock

    settings = slack_settings(fake_slack, rate_limit_reveal=Limit(1, 3600))
    # The app's own clock, standing still: both failures fall in one window of the limit.
    served = await serve(settings, store=store, clock=FakeClock())
    slack = SlackHarness(served, fake_slack)
    context = await browser.new_context()
    try:
        upload_link, _ = await ask_outside(slack)
        page = await context.new_page()
        await page.goto(upload_link)  # left open; the link is then used from elsewhere
        status, _ = await post_answer(served.url, upload_link, sealed_answer(upload_link, b"a"))
        assert status == 200
        made_up = upload_link.replace(UPLOAD.search(upload_link).group(1), "B" * 22)
        assert (await post_answer(served.url, made_up, sealed_answer(made_up, b"x")))[0] == 410
        await page.get_by_label("Secret").fill("a replay")
        await page.get_by_role("button", name="Send securely").click()
        await page.locator("#message.error").wait_for()
        assert "Too many failed uploads" in await page.locator("#message").inner_text()
        assert "#" not in page.url
        assert UPLOAD.search(upload_link).group(2) not in page.url
    finally:
        await context.close()
        await served.runner.cleanup()


async def test_a_refused_cancel_in_the_app_home_is_told_not_lost(slack):
    """A Home tab click has no response_url: the refusal comes as a DM."""
    upload_link, _ = await ask_outside(slack)
    request_id = UPLOAD.search(upload_link).group(1)
    dms = len(slack.fake.of("chat.postMessage"))
    await slack.click(outside.LIST_CANCEL_ACTION, request_id, MALLORY, "home", "view")
    await slack.settle()
    told = slack.fake.of("chat.postMessage")[dms:]
    assert told and told[-1]["channel"] == MALLORY
    assert "Only the person who created" in told[-1]["text"]
    assert (await slack.service.outside.look(request_id)).note == "vendor key"
