"""The reveal page in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from tests.support.app import make_settings, serve
from tests.support.links import parse_link, reveal_body

VECTOR = json.loads((Path(__file__).parent / "vectors" / "v1.json").read_text("utf-8"))
TRICKY = 'pässwörd 🔐🦄\nsecond line\n\ttabbed <b>not bold</b> & "quoted"\n'


async def create(served, text, **kwargs) -> str:
    return (await served.service.create(text, ttl=600, **kwargs)).link


async def test_chromium_reveals_unicode_secret_once_and_then_it_is_gone(served, page):
    link = await create(served, TRICKY)
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    output = page.locator("#secret")
    await output.wait_for(state="visible")
    assert await output.input_value() == TRICKY
    assert "deleted from the server" in await page.locator("#result").inner_text()
    assert "#" not in page.url  # the key is dropped from the address bar after use
    # Second visit with the very same link: the page looks like any other (a preview learns
    # nothing), and Reveal says calmly that it is gone.
    other = await page.context.new_page()
    response = await other.goto(link)
    assert response.status == 200
    await other.get_by_role("button", name="Reveal secret").click()
    await other.locator("#message.error").wait_for()
    assert "not here" in await other.locator("#message").inner_text()


async def test_wrong_passphrase_shows_attempts_left_then_right_one_reveals(served, page):
    link = await create(served, "behind a passphrase", passphrase="tr0ub4dor&3")
    await page.goto(link)
    await page.get_by_label("Passphrase").fill("wrong guess")
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#message.error").wait_for()
    assert "4 attempts left" in await page.locator("#message").inner_text()
    await page.get_by_label("Passphrase").fill("tr0ub4dor&3")
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#secret").wait_for(state="visible")
    assert await page.locator("#secret").input_value() == "behind a passphrase"


async def test_copy_puts_the_revealed_secret_on_the_clipboard(served, page):
    link = await create(served, "copy me once")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#secret").wait_for(state="visible")
    await page.get_by_role("button", name="Copy").click()
    await page.locator("#message.ok").wait_for()
    assert await page.locator("#message").inner_text() == "Copied."
    assert await page.evaluate("navigator.clipboard.readText()") == "copy me once"


async def test_truncated_link_says_so_and_never_contacts_the_server(served, page):
    link = await create(served, "intact")
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else 0)
    await page.goto(link[:-3])
    message = page.locator("#message")
    await message.wait_for()
    assert "incomplete" in await message.inner_text()
    assert not await page.locator("#reveal-form").is_visible()
    assert posts == []
    async with aiohttp.ClientSession() as http:
        async with http.post(
            served.url + parse_link(link).path, json=reveal_body(link)
        ) as response:
            assert response.status == 200


async def test_mistyped_link_gets_broken_link_message_and_secret_survives(served, page):
    link = await create(served, "intact")
    parts = parse_link(link)
    from bot import crypto

    wrong = bytes([parts.link_key[0] ^ 0xFF]) + parts.link_key[1:]
    await page.goto(f"{served.url}{parts.path}#{crypto.b64encode(wrong)}")
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#message.error").wait_for()
    assert "incomplete or mistyped" in await page.locator("#message").inner_text()
    status = await served.service.status(parts.secret_id)
    assert status.attempts_left == 5


async def test_browser_crypto_matches_the_shared_vector(served, page):
    link = await create(served, "x")
    await page.goto(link)
    result = await page.evaluate(
        """async (v) => {
          const O = window.OnceLink;
          const k = O.b64decode(v.link_key, 32);
          const out = {};
          for (const [name, pass] of [["with_passphrase", v.passphrase],
                                      ["without_passphrase", ""]]) {
            const p = await O.passphraseKey(pass, v.secret_id);
            const keys = await O.deriveKeys(k, p, v.secret_id);
            const ct = v[name].ciphertext;
            out[name] = {
              passphrase_key: O.b64encode(p),
              link_proof: O.b64encode(keys.linkProof),
              enc_key: O.b64encode(keys.encKey),
              auth: O.b64encode(keys.auth),
              plaintext: await O.decrypt(keys.encKey, O.b64decode(v.nonce, 12),
                                         O.b64decode(ct, Math.floor(ct.length * 3 / 4)),
                                         v.secret_id),
            };
          }
          return out;
        }""",
        VECTOR,
    )
    for name in ("with_passphrase", "without_passphrase"):
        for field in ("link_proof", "enc_key", "auth"):
            assert result[name][field] == VECTOR[name][field], (name, field)
        assert result[name]["plaintext"] == VECTOR["plaintext"]
    assert (
        result["with_passphrase"]["passphrase_key"] == VECTOR["with_passphrase"]["passphrase_key"]
    )


async def test_browser_outside_sealing_matches_the_shared_vector(served, page):
    """The upload page's sealing to the requester's key and the reveal page's opening, in
    Chromium's WebCrypto, against the vector Python checks (tests/test_crypto.py); and an
    answer sealed in the browser with a fresh ephemeral key opens in Python with `d`."""
    from bot import crypto

    link = await create(served, "x")
    await page.goto(link)
    o = VECTOR["outside"]
    result = await page.evaluate(
        """async (v) => {
          const O = window.OnceLink;
          const o = v.outside;
          const d = O.b64decode(o.answer_key, 32), q = O.b64decode(o.public_key, 65);
          const e = O.b64decode(o.ephemeral_key, 32);
          const big = O.b64decode(o.ephemeral_public_key, 65);
          const sealedText = o.sealed;
          const sealed = O.b64decode(sealedText, Math.floor(sealedText.length * 3 / 4));
          const nonce = O.b64decode(v.nonce, 12);
          const fromE = await O.answerKey(await O.importPrivate(e, big), q, v.secret_id);
          const fromD = await O.answerKey(await O.importPrivate(d, q), big, v.secret_id);
          const opened = await O.openAnswer(d, q, nonce, sealed, v.secret_id);
          const fresh = await O.sealAnswer(q, new TextEncoder().encode(v.plaintext),
                                           v.secret_id);
          return {
            from_e: O.b64encode(fromE),
            from_d: O.b64encode(fromD),
            opened: new TextDecoder().decode(opened),
            fresh_nonce: O.b64encode(fresh.nonce),
            fresh_sealed: O.b64encode(fresh.sealed),
          };
        }""",
        VECTOR,
    )
    assert result["from_e"] == o["enc_key"]
    assert result["from_d"] == o["enc_key"]
    assert result["opened"] == VECTOR["plaintext"]
    fresh = crypto.b64decode(result["fresh_sealed"], 65 + len(VECTOR["plaintext"].encode()) + 16)
    assert fresh[:65] != crypto.b64decode(o["ephemeral_public_key"], 65)  # a fresh e
    opened = crypto.open_answer(
        crypto.b64decode(result["fresh_nonce"], 12),
        fresh,
        crypto.b64decode(o["answer_key"], 32),
        VECTOR["secret_id"],
    )
    assert opened.decode() == VECTOR["plaintext"]


async def test_page_loads_nothing_from_any_other_origin_and_sends_strict_headers(served, page):
    link = await create(served, "private")
    origins, responses = set(), []
    page.on("request", lambda request: origins.add(urlsplit(request.url).netloc))
    page.on("response", lambda response: responses.append(response))
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#secret").wait_for(state="visible")
    assert origins == {urlsplit(served.url).netloc}
    assert len(responses) >= 4  # page, script, style, reveal POST
    for response in responses:
        headers = await response.all_headers()
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


async def test_csp_blocks_an_injected_inline_script(served, page):
    link = await create(served, "x")
    violations = []
    page.on("console", lambda message: violations.append(message.text))
    await page.goto(link)
    await page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.injected = 1'; document.body.appendChild(s); }"""
    )
    assert await page.evaluate("() => window.injected") is None
    assert any("Content Security Policy" in text for text in violations)


async def test_plaintext_is_cleared_on_pagehide_and_not_restored_by_back(served, page):
    link = await create(served, "do not keep me")
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#secret").wait_for(state="visible")
    await page.goto(served.url + "/healthz")
    await page.go_back()
    await page.wait_for_load_state()
    content = await page.content()
    assert "do not keep me" not in content
    values = await page.evaluate(
        "() => Array.from(document.querySelectorAll('textarea')).map(t => t.value)"
    )
    assert "do not keep me" not in values


async def test_without_javascript_the_page_explains_why(served, browser):
    link = await create(served, "x")
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(link)
        assert "needs JavaScript" in await page.locator("noscript").inner_text()
        assert not await page.locator("#reveal-form").is_visible()
    finally:
        await context.close()


async def test_reveal_works_by_keyboard_alone(served, page):
    link = await create(served, "keyboard")
    await page.goto(link)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.locator("#secret").wait_for(state="visible")
    assert await page.locator("#secret").input_value() == "keyboard"


async def test_from_slash_command_to_reveal_in_chromium(slack, page):
    """The product end to end: /secret, the modal, the ephemeral link, Reveal, the receipt."""
    from tests.slack_harness import find_link, form_values

    view = await slack.open_modal()
    await slack.submit(
        form_values(TRICKY, passphrase="horse battery", note="e2e"), view["private_metadata"]
    )
    link = find_link((await slack.fake.wait_for("response_url"))[0])
    await page.goto(link)
    await page.get_by_label("Passphrase").fill("horse battery")
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#secret").wait_for(state="visible")
    assert await page.locator("#secret").input_value() == TRICKY
    receipt = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert "revealed" in receipt["text"] and "e2e" in json.dumps(receipt["blocks"])
    again = await page.context.new_page()
    assert (await again.goto(link)).status == 200  # the same page whether or not it waits
    await again.get_by_role("button", name="Reveal secret").click()
    await again.locator("#message.error").wait_for()
    assert "not here" in await again.locator("#message").inner_text()


async def test_inline_command_and_shortcut_links_reveal_in_chromium(slack, page):
    from tests.slack_harness import find_link, form_values

    await slack.command("inline one")
    link = find_link((await slack.fake.wait_for("response_url"))[0])
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#secret").wait_for(state="visible")
    assert await page.locator("#secret").input_value() == "inline one"

    await slack.shortcut("from a message")
    view = (await slack.fake.wait_for("views.open"))[0]["view"]
    await slack.submit(form_values("from a message"), view["private_metadata"])
    link = find_link((await slack.fake.wait_for("response_url", 2))[1])
    other = await page.context.new_page()
    await other.goto(link)
    await other.get_by_role("button", name="Reveal secret").click()
    await other.locator("#secret").wait_for(state="visible")
    assert await other.locator("#secret").input_value() == "from a message"


async def test_300_failures_from_an_address_never_block_its_valid_reveal(store, page):
    """Behind a proxy that is not trusted every visitor shares one address; a stranger's
    failures past the limit (120 a minute) must not keep anyone's right link shut."""
    start = time.time()  # the app's clock, stopped: all 300 land in one window
    served = await serve(make_settings(), store=store, clock=lambda: start)
    try:
        await _300_failures_then_chromium(served, page)
    finally:
        await served.runner.cleanup()


async def _300_failures_then_chromium(served, page) -> None:
    link = await create(served, "still reachable")
    victim = await create(served, "probed")
    wrong = {"link_proof": "A" * 43, "auth": reveal_body(victim)["auth"]}
    path = served.url + parse_link(victim).path
    async with aiohttp.ClientSession() as http:

        async def fail() -> int:
            async with http.post(path, json=wrong) as response:
                return response.status

        statuses = []
        # 25 at a time, from the same address as the browser below: enough to race the
        # limiter (its atomicity has its own test), few enough that a loaded machine keeps
        # every count within the limiter's store deadline.
        for _ in range(12):
            statuses += await asyncio.gather(*(fail() for _ in range(25)))
    await page.goto(link)
    await page.get_by_role("button", name="Reveal secret").click()
    await page.locator("#message.error, #secret:visible").first.wait_for()
    assert await page.locator("#message").inner_text() == ""
    assert await page.locator("#secret").input_value() == "still reachable"
    assert statuses.count(403) == 120 and statuses.count(429) == 180  # the limit held
