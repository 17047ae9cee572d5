"""Secrets written in the browser through a one-time compose link, in a real Chromium."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import aiohttp

from bot.compose import ComposeGrant
from tests.support.app import make_settings, serve
from tests.support.compose import upload

GRANT = ComposeGrant(
    creator="T0001:U0001",
    metadata="{}",
    expiry_choices=(300, 3600),
    default_ttl=3600,
)


async def compose_link(served, grant: ComposeGrant = GRANT) -> str:
    return (await served.service.compose.issue(grant)).link


async def compose_in_page(page, link: str, *, text: str = "", file: Path | None = None) -> str:
    """Open a compose link, write or pick, click Create link; the link the page shows."""
    await page.goto(link)
    if text:
        await page.get_by_label("Secret").fill(text)
    if file is not None:
        await page.locator("#file").set_input_files(str(file))
    await page.get_by_role("button", name="Create link").click()
    output = page.locator("#link")
    await output.wait_for(state="visible", timeout=60_000)
    return await output.input_value()


async def reveal_in_page(page, link: str) -> str:
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    output = page.locator("#secret")
    await output.wait_for(state="visible")
    return await output.input_value()


async def test_a_composed_text_secret_reveals_once_in_chromium(served, page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    compose = await compose_link(served)
    response = await page.request.get(compose)
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in await response.text()  # no inline script
    link = await compose_in_page(page, compose, text="written in the page")
    assert requested and all(url.startswith(served.url + "/") for url in requested)
    assert link.startswith(served.url + "/s/")
    other = await page.context.new_page()
    assert await reveal_in_page(other, link) == "written in the page"
    again = await page.context.new_page()
    await again.goto(link)
    await again.get_by_role("button", name="Reveal secret").click()
    await again.locator("#message.error").wait_for()
    assert "not here" in await again.locator("#message").inner_text()


SECURITY_HEADERS = (
    "content-security-policy",
    "cache-control",
    "pragma",
    "referrer-policy",
    "x-content-type-options",
    "x-frame-options",
    "x-robots-tag",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "permissions-policy",
    "server",
)


async def test_the_compose_page_sends_every_security_header_the_reveal_page_sends(served):
    compose = await compose_link(served)
    status, _, link = await upload(await compose_link(served), served.url, b"x", ttl=3600)
    assert status == 200
    async with aiohttp.ClientSession() as http:
        async with http.get(link.split("#")[0]) as reveal, http.get(compose) as page:
            assert (reveal.status, page.status) == (200, 200)
            for name in SECURITY_HEADERS:
                assert reveal.headers.get(name), name
                assert page.headers.get(name) == reveal.headers[name], name
            # Whatever else the reveal page adds for safety, the compose page adds too.
            extra = {"content-length", "date", "content-type", "etag", "last-modified"}
            assert set(reveal.headers) - extra <= set(page.headers)


async def test_a_5_mib_file_downloads_with_its_bytes_and_name(served, page, tmp_path):
    original = os.urandom(5 * 1024 * 1024)
    path = tmp_path / "kube config.yaml"
    path.write_bytes(original)
    link = await compose_in_page(page, await compose_link(served), file=path)
    reveal = await page.context.new_page()
    await reveal.goto(link)
    await reveal.get_by_role("button", name="Reveal secret").click()
    await reveal.locator("#file-result").wait_for(state="visible", timeout=60_000)
    assert await reveal.locator("#file-name").inner_text() == "kube config.yaml"
    assert await reveal.locator("#file-size").inner_text() == "5 MiB"
    async with reveal.expect_download() as waiting:
        await reveal.get_by_role("button", name="Download").click()
    download = await waiting.value
    assert download.suggested_filename == "kube config.yaml"
    saved = tmp_path / "saved"
    await download.save_as(str(saved))
    assert saved.read_bytes() == original


async def test_a_used_compose_link_is_refused_calmly(served, page):
    link = await compose_in_page(page, await compose_link(served), text="first")
    assert link
    # The compose link itself (not the secret's) is used up: its page says so, calmly.
    first = await compose_link(served)
    await compose_in_page(page, first, text="once")
    again = await page.context.new_page()
    response = await again.goto(first)
    assert response.status == 404
    assert "not valid" in await again.locator("h1").inner_text()
    assert not await again.locator("#compose-form").count()


async def test_a_compose_page_left_open_after_its_link_was_used_is_refused_on_upload(served, page):
    link = await compose_link(served)
    await page.goto(link)
    twin = await page.context.new_page()
    await twin.goto(link)
    await page.get_by_label("Secret").fill("the first tab wins")
    await page.get_by_role("button", name="Create link").click()
    await page.locator("#link").wait_for(state="visible")
    await twin.get_by_label("Secret").fill("the second tab loses")
    await twin.get_by_role("button", name="Create link").click()
    await twin.locator("#message.error").wait_for()
    assert "used already" in await twin.locator("#message").inner_text()
    assert await twin.locator("#link").input_value() == ""


async def test_forged_expired_and_malformed_compose_links_get_a_calm_page(served, page):
    from bot import crypto

    forged = f"{served.url}/c/{crypto.b64encode(os.urandom(32))}"
    for url in (forged, f"{served.url}/c/short", f"{served.url}/c/%0A%0Aforged"):
        response = await page.goto(url)
        assert response.status == 404
        assert "not valid" in await page.locator("h1").inner_text()
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_a_compose_link_expires_after_ten_minutes(store):
    from tests.support.clock import FakeClock

    clock = FakeClock()
    served = await serve(make_settings(), store=store, clock=clock)
    try:
        link = await compose_link(served)
        clock.advance(599)
        async with aiohttp.ClientSession() as http:
            async with http.get(link) as response:
                assert response.status == 200
            clock.advance(2)
            async with http.get(link) as response:
                assert response.status == 404
    finally:
        await served.runner.cleanup()


async def test_a_file_over_the_limit_is_refused_in_the_page_before_any_upload(
    store, page, tmp_path
):
    served = await serve(make_settings(max_file_size=64 * 1024), store=store)
    try:
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(64 * 1024 + 1))
        posts: list[object] = []
        page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
        await page.goto(await compose_link(served))
        assert "at most 64 KiB" in await page.locator("#compose-form").inner_text()
        await page.locator("#file").set_input_files(str(big))
        await page.get_by_role("button", name="Create link").click()
        await page.locator("#message.error").wait_for()
        assert "the most this app takes is 64 KiB" in await page.locator("#message").inner_text()
        assert posts == []
    finally:
        await served.runner.cleanup()


async def _raw_post(url: str, head: bytes, body: bytes = b"") -> bytes:
    """A POST as a stranger would write it: the head says what it likes, the body follows
    or not. The answer's first line and headers."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(head.replace(b"PATH", parts.path.encode()) + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    return answer


async def test_an_upload_over_the_limit_is_refused_on_the_server_unread_or_cut_off(store):
    served = await serve(make_settings(max_file_size=64 * 1024), store=store)
    try:
        link = await compose_link(served)
        # Declared too large: answered at once, before a byte of the body was sent.
        answer = await _raw_post(
            link,
            b"POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413")
        # Not declared (chunked): cut off once it grows past the limit.
        async with aiohttp.ClientSession() as http:

            async def chunks():
                for _ in range(100):
                    yield b"{}\n" + os.urandom(4096)

            async with http.post(link, data=chunks()) as response:
                assert response.status == 413
                assert (await response.json())["error"] == "too_large"
        # A made-up token is refused before its body is read, whatever length it declares.
        from bot import crypto

        forged = f"{served.url}/c/{crypto.b64encode(os.urandom(32))}"
        answer = await _raw_post(
            forged, b"POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 410")
        # Nothing was stored and the compose link still works.
        assert "\noncelink_secrets_created_total 0\n" in served.service.metrics.render()
        async with aiohttp.ClientSession() as http:
            async with http.get(link) as response:
                assert response.status == 200
    finally:
        await served.runner.cleanup()


def test_logged_paths_keep_six_characters_of_a_compose_token():
    from bot.web import redact_path

    token = "PB7y10KwUzoXcUZ-H6blHvnN_OY-g3HA4K79VVy4gio"
    assert redact_path(f"/c/{token}?x=1") == "/c/PB7y10…"


OBJECT_URLS = """
window.__made = []; window.__revoked = [];
const make = URL.createObjectURL.bind(URL), revoke = URL.revokeObjectURL.bind(URL);
URL.createObjectURL = (b) => { const u = make(b); window.__made.push(u); return u; };
URL.revokeObjectURL = (u) => { window.__revoked.push(u); revoke(u); };
"""


async def test_a_file_is_never_rendered_and_is_dropped_on_pagehide(served, page, tmp_path):
    path = tmp_path / "photo.svg"
    path.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    link = await compose_in_page(page, await compose_link(served), file=path)
    reveal = await page.context.new_page()
    await reveal.add_init_script(OBJECT_URLS)
    await reveal.goto(link)
    await reveal.get_by_role("button", name="Reveal secret").click()
    await reveal.locator("#file-result").wait_for(state="visible")
    rendered = "img, iframe, object, embed, video, audio, svg, a[download]"
    assert await reveal.locator(rendered).count() == 0  # shown as a name, saved on click only
    assert await reveal.locator("#file-name").inner_text() == "photo.svg"
    async with reveal.expect_download():
        await reveal.get_by_role("button", name="Download").click()
    await reveal.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert not await reveal.locator("#file-result").is_visible()
    # Nothing of the file is left for the back/forward cache: not its name, not its size,
    # not a URL to its bytes.
    assert await reveal.locator("#file-name").text_content() == ""
    assert await reveal.locator("#file-size").text_content() == ""
    made, revoked = await reveal.evaluate("[window.__made, window.__revoked]")
    assert made and set(made) <= set(revoked)


async def test_a_file_name_cannot_be_disguised_by_direction_or_control_characters(served, page):
    names = {
        "invoice\u202egpj.exe": "invoicegpj.exe",  # would read as "invoiceexe.jpg"
        "a\u2066b\u200fc\u0007d\ne.txt": "abcde.txt",
        "../../.bashrc": "bashrc",
        "é" * 200: "é" * 127,  # cut to 255 bytes, never inside a character
    }
    for sent, shown in names.items():
        compose = await compose_link(served)
        await page.goto(compose)
        await page.locator("#file").set_input_files(
            {"name": sent, "mimeType": "text/plain", "buffer": b"hello"}
        )
        await page.get_by_role("button", name="Create link").click()
        await page.locator("#link").wait_for(state="visible")
        link = await page.locator("#link").input_value()
        reveal = await page.context.new_page()
        await reveal.goto(link)
        await reveal.get_by_role("button", name="Reveal secret").click()
        await reveal.locator("#file-result").wait_for(state="visible")
        assert await reveal.locator("#file-name").inner_text() == shown, repr(sent)
        async with reveal.expect_download() as waiting:
            await reveal.get_by_role("button", name="Download").click()
        assert (await waiting.value).suggested_filename == shown
        bidi = await reveal.locator("#file-name").evaluate("e => getComputedStyle(e).unicodeBidi")
        assert bidi == "isolate"
        await reveal.close()


async def test_the_compose_page_forgets_the_passphrase_on_pagehide(served, page):
    await page.goto(await compose_link(served))
    await page.get_by_label("Secret").fill("typed")
    await page.locator("#passphrase").fill("correct horse battery")
    await page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert await page.locator("#passphrase").input_value() == ""
    assert await page.get_by_label("Secret").input_value() == ""


async def test_a_pass_on_link_must_be_the_secrets_own_link(served):
    from tests.support.compose import sealed_upload

    grant = ComposeGrant("T1:U1", "{}", (3600,), 3600, recipient_label="@bob", edge="{}")
    compose = await compose_link(served, grant)
    body, link = sealed_upload(compose, served.url, b"x", ttl=3600, pass_on=True)
    forged = body.replace(link.encode(), f"{served.url}/s/AAAAAAAAAAAAAAAAAAAAAA#x".encode())
    async with aiohttp.ClientSession() as http:
        async with http.post(compose, data=forged) as response:
            assert response.status == 400
        async with http.post(compose, data=body) as response:
            assert response.status == 200


STALLED_HEAD = b"POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 10490000\r\n\r\n"


async def _stall(url: str, headers: dict[str, str] | None = None, length: int = 0):
    """An upload that declares a file near the limit (or `length` bytes), sends one line of
    it, then waits: the open connection (close it to hang up). `headers` go with it (a
    proof, a token)."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = STALLED_HEAD.replace(b"PATH", parts.path.encode())
    head = head.replace(b"Host: x\r\n", b"Host: x\r\n" + extra.encode())
    if length:
        head = head.replace(b"10490000", str(length).encode())
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(head + b'{"version": 1,')
    await writer.drain()
    return reader, writer


async def _page_status(link: str) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as response:
            return response.status


async def _until_page_status(link: str, status: int) -> None:
    """Wait (bounded) for the compose page to answer `status`: 404 while an upload holds the
    link, 200 once it was given back."""
    import asyncio

    for _ in range(500):
        if await _page_status(link) == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the compose page never answered {status}")


async def test_stalled_uploads_to_one_compose_link_hold_one_buffer_and_are_cut_off(
    store, monkeypatch
):
    import asyncio

    from bot import uploads

    monkeypatch.setattr(uploads, "CHUNK_SECONDS", 0.5)
    served = await serve(make_settings(), store=store)
    try:
        link = await compose_link(served)
        reader, writer = await _stall(link)
        await _until_page_status(link, 404)  # taken by the first upload, before its body
        # Every other upload to the same link is refused at once, unread: one link never
        # makes the server hold more than one file. They hear 409 in_use, to try again (the
        # first may give the link back), not 410 gone as if the link were over.
        others = await asyncio.gather(
            *(asyncio.wait_for(_raw_post(link, STALLED_HEAD, b"{}"), 5) for _ in range(20))
        )
        assert all(answer.startswith(b"HTTP/1.1 409") for answer in others)
        # The stalled one is answered once its next chunk is late, and gives the link back.
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")
        await _until_page_status(link, 200)
        status, _, _ = await upload(link, served.url, b"after the stall", ttl=3600)
        assert status == 200
    finally:
        await served.runner.cleanup()


async def test_uploads_beyond_the_per_process_cap_are_told_to_try_again(store, monkeypatch):
    from bot import uploads

    monkeypatch.setattr(uploads, "UPLOADS_AT_ONCE", 2)
    served = await serve(make_settings(), store=store)
    try:
        # Three people's links: one person's uploads take one place at most.
        links = [
            await compose_link(served, dataclasses.replace(GRANT, creator=f"T0001:U000{n}"))
            for n in range(3)
        ]
        stalled = [await _stall(link) for link in links[:2]]
        for link in links[:2]:
            await _until_page_status(link, 404)
        status, answer, _ = await upload(links[2], served.url, b"one too many", ttl=3600)
        assert status == 503 and answer["error"] == "busy"
        assert await _page_status(links[2]) == 200  # refused before its link was taken
        for _, writer in stalled:
            writer.close()  # hang up: the uploads end and give their links back
        for link in links[:2]:
            await _until_page_status(link, 200)
        status, _, _ = await upload(links[2], served.url, b"now there is room", ttl=3600)
        assert status == 200
    finally:
        await served.runner.cleanup()


async def test_a_sender_hanging_up_mid_upload_leaves_one_calm_line(served, caplog):
    import logging

    caplog.set_level(logging.INFO)
    link = await compose_link(served)
    _, writer = await _stall(link)
    await _until_page_status(link, 404)
    writer.close()
    await _until_page_status(link, 200)  # given back: the page can simply try again
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert "upload cut off: the sender hung up before the end of its body" in lines
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert link.rsplit("/", 1)[-1] not in caplog.text


async def test_one_compose_link_makes_one_secret_under_20_simultaneous_uploads(served):
    import asyncio

    link = await compose_link(served)
    answers = await asyncio.gather(
        *(upload(link, served.url, f"racer {n}".encode(), ttl=3600) for n in range(20))
    )
    statuses = sorted(status for status, _, _ in answers)
    # The others hear 409 while the winner holds the link, 410 once it was used.
    assert statuses[0] == 200 and set(statuses[1:]) <= {409, 410} and len(statuses) == 20


async def test_a_store_failing_to_mark_a_taken_compose_link_gives_it_back(
    served, store, monkeypatch
):
    """The link was taken, then the store failed to keep its in-use mark: the link is given
    back at once, so the page can simply try again."""
    from bot.errors import StoreUnavailable

    link = await compose_link(served)
    put = store.put
    failures = []

    async def failing_once(key: str, value: bytes, expires_at: float | None = None) -> None:
        if key.startswith("compose-leased:") and not failures:
            failures.append(key)
            raise StoreUnavailable()
        await put(key, value, expires_at)

    monkeypatch.setattr(store, "put", failing_once)
    status, answer, _ = await upload(link, served.url, b"after one failure", ttl=3600)
    assert (status, answer["error"]) == (503, "unavailable") and failures
    assert await _page_status(link) == 200  # given back
    status, _, _ = await upload(link, served.url, b"after one failure", ttl=3600)
    assert status == 200


async def test_a_pass_on_link_with_anything_after_its_key_is_refused(served):
    from tests.support.compose import sealed_upload

    grant = ComposeGrant("T1:U1", "{}", (3600,), 3600, recipient_label="@bob", edge="{}")
    compose = await compose_link(served, grant)
    body, link = sealed_upload(compose, served.url, b"x", ttl=3600, pass_on=True)
    key = link.rsplit("#", 1)[1]
    tails = (
        ">\n:warning: *Security team:* <https://evil.example/sso|Sign in again> <!here",
        "|click here",
        "\nsecond line",
        " ",
    )
    forgeries = [link + tail for tail in tails]
    # The same key, spelled in a way that decodes alike but is not the canonical form.
    last = key[-1]
    twin = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = twin[twin.index(last) ^ 1]
    forgeries.append(link[: -len(key)] + key[:-1] + other)
    async with aiohttp.ClientSession() as http:
        for forged in forgeries:
            data = body.replace(json.dumps(link).encode(), json.dumps(forged).encode(), 1)
            assert data != body
            async with http.post(compose, data=data) as response:
                assert response.status == 400, forged
        async with http.post(compose, data=body) as response:
            assert response.status == 200


async def test_an_upload_head_with_a_fractional_expiry_or_boolean_version_is_refused(served):
    from tests.support.compose import sealed_upload

    compose = await compose_link(served)
    body, _ = sealed_upload(compose, served.url, b"x", ttl=3600)
    head, _, rest = body.partition(b"\n")
    async with aiohttp.ClientSession() as http:
        for field, value in (("ttl", 3600.9), ("ttl", "3600"), ("version", True)):
            changed = json.loads(head)
            changed[field] = value
            data = json.dumps(changed).encode() + b"\n" + rest
            async with http.post(compose, data=data) as response:
                assert response.status == 400, (field, value)
        async with http.post(compose, data=body) as response:
            assert response.status == 200


async def test_the_page_refuses_text_and_file_together_an_empty_file_and_too_long_a_text(
    store, page, tmp_path
):
    """Checked in the page before anything is sealed or sent, each with its sentence."""
    served = await serve(make_settings(), store=store)
    try:
        posts: list[object] = []
        page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
        await page.goto(await compose_link(served))
        create = page.get_by_role("button", name="Create link")
        message = page.locator("#message.error")
        some, empty = tmp_path / "some.bin", tmp_path / "empty.bin"
        some.write_bytes(b"bytes")
        empty.write_bytes(b"")
        cases = [
            ("also text", str(some), "not both"),
            ("", str(empty), "That file is empty."),
            ("x" * (32 * 1024 + 1), None, "share it as a file"),
        ]
        for text, file, said in cases:
            await page.locator("#text").fill(text)
            await page.locator("#file").set_input_files(file or [])
            await create.click()
            await message.wait_for()
            assert said in await message.inner_text()
        assert posts == []
    finally:
        await served.runner.cleanup()
