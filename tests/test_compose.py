"""Secrets written in the browser through a one-time compose link, in a real Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp

from bot.compose import ComposeGrant
from tests.support.app import make_settings, serve

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


async def test_a_file_is_never_rendered_and_is_dropped_on_pagehide(served, page, tmp_path):
    path = tmp_path / "photo.svg"
    path.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    link = await compose_in_page(page, await compose_link(served), file=path)
    reveal = await page.context.new_page()
    await reveal.goto(link)
    await reveal.get_by_role("button", name="Reveal secret").click()
    await reveal.locator("#file-result").wait_for(state="visible")
    rendered = "img, iframe, object, embed, video, audio, svg, a[download]"
    assert await reveal.locator(rendered).count() == 0  # shown as a name, saved on click only
    assert await reveal.locator("#file-name").inner_text() == "photo.svg"
    await reveal.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert not await reveal.locator("#file-result").is_visible()


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
