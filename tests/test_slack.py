"""Slack end to end: signed requests in, the fake Slack's records out, reveals over HTTP."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from handlers import blocks, messages
from storage.redis_store import RedisStore
from tests.slack_fake import command_body, interactive_body, outside_window, payload, sign
from tests.slack_harness import SlackHarness, find_link, form_values
from tests.support.app import serve, slack_settings
from tests.support.links import decrypt_answer, parse_link, post_reveal
from tests.support.redis_servers import RedisServer

CREATOR = "U2147483697"


async def reveal(served, link: str, passphrase: str | None = None) -> tuple[int, dict]:
    return await post_reveal(served.url, link, passphrase)


async def modal_link(slack: SlackHarness, **form) -> tuple[str, dict]:
    view = await slack.open_modal()
    status, body = await slack.submit(form_values(**form), view["private_metadata"])
    assert (status, body) == (200, "")
    message = (await slack.fake.wait_for("response_url"))[-1]
    return find_link(message), message


async def test_secret_command_opens_the_modal_at_once(slack):
    status, body = await slack.command("")
    assert (status, body) == (200, "")
    call = (await slack.fake.wait_for("views.open"))[0]
    assert call["trigger_id"] == payload("slash_command")["trigger_id"]
    view = call["view"]
    assert view["callback_id"] == blocks.MODAL_CALLBACK
    assert view["title"]["text"] == "Share a one-time secret"
    block_ids = [block["block_id"] for block in view["blocks"]]
    assert block_ids == [
        blocks.SECRET_BLOCK,
        blocks.EXPIRY_BLOCK,
        blocks.PASSPHRASE_BLOCK,
        blocks.RECIPIENT_BLOCK,
        blocks.BOUND_BLOCK,
        blocks.NOTE_BLOCK,
        blocks.COMPOSE_BLOCK,
    ]
    secret = view["blocks"][0]["element"]
    assert secret["multiline"] and secret["max_length"] == 3000
    expiry = view["blocks"][1]["element"]
    assert [o["value"] for o in expiry["options"]] == ["300", "3600", "86400", "604800"]
    assert expiry["initial_option"]["value"] == "86400"
    assert [o["text"]["text"] for o in expiry["options"]] == [
        "5 minutes",
        "1 hour",
        "1 day",
        "7 days",
    ]
    metadata = json.loads(view["private_metadata"])
    assert metadata["response_url"] == slack.fake.response_url("cmd")
    assert metadata["channel"] == "C2147483705"


async def test_modal_submission_delivers_an_ephemeral_link_that_reveals_once(slack):
    link, message = await modal_link(slack, secret="db: p@ss&<word>", note="DB for staging")
    assert message["response_type"] == "ephemeral"
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert message["replace_original"] is False
    text = json.dumps(message["blocks"])
    assert "DB for staging" in text and "<!date^" in text
    burn = [b for b in message["blocks"] if b["type"] == "actions"][0]["elements"][0]
    assert burn["action_id"] == blocks.BURN_ACTION
    assert burn["value"] == parse_link(link).secret_id
    assert link.startswith(slack.served.url + "/s/")
    status, answer = await reveal(slack.served, link)
    assert status == 200 and decrypt_answer(link, answer) == "db: p@ss&<word>"
    assert (await reveal(slack.served, link))[0] == 410
    await slack.settle()
    assert slack.fake.of("chat.postEphemeral") == []


async def test_chosen_expiry_and_passphrase_are_applied(slack):
    before = time.time()
    link, message = await modal_link(slack, secret="s", ttl=300, passphrase="correct horse")
    status = await slack.service.status(parse_link(link).secret_id)
    assert status.has_passphrase and before + 295 < status.expires_at < time.time() + 301
    assert "passphrase" in json.dumps(message["blocks"])
    assert (await reveal(slack.served, link, "wrong horse!"))[0] == 403
    code, answer = await reveal(slack.served, link, "correct horse")
    assert code == 200 and decrypt_answer(link, answer, "correct horse") == "s"


async def test_a_secret_that_starts_with_a_word_meant_alone_is_shared_whole(slack):
    """`/secret list` lists; `/secret list hunter2` is a secret, never a listing."""
    status, body = await slack.command("list hunter2")
    assert (status, body) == (200, "")
    link = find_link((await slack.fake.wait_for("response_url"))[0])
    code, answer = await reveal(slack.served, link)
    assert code == 200 and decrypt_answer(link, answer) == "list hunter2"


async def test_inline_command_creates_a_secret_with_the_default_expiry(slack):
    status, body = await slack.command("  hunter2 two words  ")
    assert (status, body) == (200, "")
    message = (await slack.fake.wait_for("response_url"))[0]
    link = find_link(message)
    expires = (await slack.service.status(parse_link(link).secret_id)).expires_at
    assert 86000 < expires - time.time() <= 86400
    code, answer = await reveal(slack.served, link)
    assert decrypt_answer(link, answer) == "  hunter2 two words  "
    await slack.settle()
    assert slack.fake.of("views.open") == []


async def test_help_is_answered_ephemerally_in_the_ack(slack):
    status, body = await slack.command("help")
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral"
    assert "/secret" in answer["text"] and "Share as one-time secret" in answer["text"]
    await slack.settle()
    assert [c.method for c in slack.fake.calls if c.method != "auth.test"] == []


async def test_message_shortcut_prefills_the_modal_and_suggests_deleting(slack):
    status, _ = await slack.shortcut("token: a&b <c>")
    assert status == 200
    view = (await slack.fake.wait_for("views.open"))[0]["view"]
    assert view["blocks"][0]["element"]["initial_value"] == "token: a&b <c>"
    metadata = json.loads(view["private_metadata"])
    assert metadata["shortcut"] is True
    assert metadata["response_url"] == slack.fake.response_url("sc")
    status, _ = await slack.submit(form_values(secret="token: a&b <c>"), view["private_metadata"])
    message = (await slack.fake.wait_for("response_url"))[0]
    assert "Consider deleting" in json.dumps(message["blocks"])
    code, answer = await reveal(slack.served, find_link(message))
    assert decrypt_answer(find_link(message), answer) == "token: a&b <c>"


async def test_recipient_gets_a_dm_and_the_creator_is_told(slack):
    link, message = await modal_link(slack, secret="for bob", recipient="UBOB", note="VPN")
    dm = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == "UBOB"
    assert dm["unfurl_links"] is False and dm["unfurl_media"] is False
    dm_text = json.dumps(dm["blocks"])
    assert f"<@{CREATOR}>" in dm_text and "VPN" in dm_text and link in dm_text
    assert "Sent to <@UBOB>" in json.dumps(message["blocks"])


async def test_creator_burns_and_the_message_is_replaced(slack):
    link, _ = await modal_link(slack)
    secret_id = parse_link(link).secret_id
    status, _ = await slack.click_burn(secret_id)
    assert status == 200
    burned = (await slack.fake.wait_for("response_url", 2))[1]
    assert burned["replace_original"] is True and "Burned" in burned["text"]
    assert (await reveal(slack.served, link))[0] == 410


async def test_someone_else_cannot_burn(slack):
    link, _ = await modal_link(slack)
    await slack.click_burn(parse_link(link).secret_id, user="UMALLORY")
    refused = (await slack.fake.wait_for("response_url", 2))[1]
    assert "Only the person who created" in refused["text"]
    assert refused["replace_original"] is False
    assert (await reveal(slack.served, link))[0] == 200


async def test_receipt_tells_the_creator_without_the_secret(slack):
    link, _ = await modal_link(slack, secret="RECEIPT-CANARY", note="Wi-Fi")
    await reveal(slack.served, link)
    receipt = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert receipt["channel"] == CREATOR
    text = json.dumps(receipt)
    assert "revealed" in text and "Wi-Fi" in text and "<#C2147483705>" in text
    assert "RECEIPT-CANARY" not in text and parse_link(link).path not in text


async def test_receipts_can_be_turned_off(store, fake_slack):
    served = await serve(slack_settings(fake_slack, receipts=False), store=store)
    try:
        slack = SlackHarness(served, fake_slack)
        link, _ = await modal_link(slack)
        assert (await reveal(served, link))[0] == 200
        await slack.settle()
        assert fake_slack.of("chat.postMessage") == []
    finally:
        await served.runner.cleanup()


@pytest.mark.parametrize(
    ("form", "block", "says"),
    [
        ({"secret": ""}, blocks.SECRET_BLOCK, "Write the secret"),
        ({"secret": "  \n "}, blocks.SECRET_BLOCK, "Write the secret"),
        ({"secret": "x" * 3001}, blocks.SECRET_BLOCK, "At most 3000"),
        ({"passphrase": "abc"}, blocks.PASSPHRASE_BLOCK, "at least 6"),
        ({"ttl": 30 * 86400}, blocks.EXPIRY_BLOCK, "longest expiry allowed is 7 days"),
        ({"ttl": 1234}, blocks.EXPIRY_BLOCK, "Choose one of"),
        ({"note": "n" * 151}, blocks.NOTE_BLOCK, "At most 150"),
    ],
)
async def test_modal_errors_are_shown_on_the_right_field_and_nothing_is_stored(
    slack, form, block, says
):
    view = await slack.open_modal()
    status, body = await slack.submit(form_values(**form), view["private_metadata"])
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block] and says in answer["errors"][block]
    await slack.settle()
    assert slack.fake.of("response_url") == []


async def test_store_outage_gets_a_clear_ephemeral_and_the_ack_is_fast(tmp_path, fake_slack):
    server = RedisServer(tmp_path)
    server.start()
    served = await serve(slack_settings(fake_slack), store=RedisStore.from_url(server.url))
    try:
        slack = SlackHarness(served, fake_slack)
        server.kill()
        started = time.monotonic()
        status, _ = await slack.command("will not be stored")
        assert status == 200 and time.monotonic() - started < 3
        message = (await fake_slack.wait_for("response_url"))[0]
        assert message["text"] == messages.STORE_DOWN  # one sentence for every listener
        assert message["response_type"] == "ephemeral"
    finally:
        await served.runner.cleanup()
        server.kill()


async def test_ack_comes_before_slow_slack_delivery(slack):
    slack.fake.fail("response_url", delay=4.0, status=200, body={"ok": True})
    started = time.monotonic()
    status, _ = await slack.command("slow delivery")
    assert status == 200 and time.monotonic() - started < 3


async def test_response_url_5xx_and_429_are_retried(slack):
    slack.fake.fail("response_url", status=500)
    slack.fake.fail("response_url", status=429, headers={"Retry-After": "1"})
    await slack.command("retried")
    messages = await slack.fake.wait_for("response_url", 3)
    assert find_link(messages[2])
    code, answer = await reveal(slack.served, find_link(messages[2]))
    assert decrypt_answer(find_link(messages[2]), answer) == "retried"


async def test_expired_response_url_falls_back_to_a_dm(slack):
    slack.fake.fail("response_url", times=3, status=404, body={"ok": False})
    await slack.command("via dm")
    dm = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == CREATOR
    code, answer = await reveal(slack.served, find_link(dm))
    assert decrypt_answer(find_link(dm), answer) == "via dm"


async def test_undeliverable_link_burns_the_secret_and_says_so_when_possible(slack):
    slack.fake.fail("response_url", times=3, status=500)  # link message, retried
    slack.fake.fail("chat.postMessage", times=3, status=500)  # DM fallback, retried
    await slack.command("nobody will hold this")
    told = (await slack.fake.wait_for("response_url", 4))[3]
    assert "deleted right away" in told["text"]
    link = find_link((slack.fake.of("response_url"))[0])
    assert (await reveal(slack.served, link))[0] == 410


async def test_dropped_connections_are_retried(slack):
    slack.fake.fail("chat.postMessage", drop=True)
    link, _ = await modal_link(slack, recipient="UBOB")
    dms = await slack.fake.wait_for("chat.postMessage", 2)
    assert dms[1]["channel"] == "UBOB" and link in json.dumps(dms[1]["blocks"])


async def test_no_response_url_means_a_dm(slack):
    view = await slack.open_modal()
    metadata = json.loads(view["private_metadata"])
    metadata["response_url"] = ""
    await slack.submit(form_values(secret="dm me"), json.dumps(metadata))
    dm = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == CREATOR and find_link(dm)


def _altered(body: str) -> tuple[str, dict]:
    headers = sign(body)
    return body.replace("hunter2", "hunter3"), headers


@pytest.mark.parametrize(
    "make",
    [
        lambda body: (body, {"Content-Type": "application/x-www-form-urlencoded"}),
        lambda body: (body, sign(body, secret="not-the-signing-secret")),
        lambda body: (body, sign(body, timestamp=outside_window(-1))),
        lambda body: (body, sign(body, timestamp=outside_window(+1))),
        _altered,
        lambda body: (body, {**sign(body), "X-Slack-Request-Timestamp": "soon"}),
        lambda body: (body, {**sign(body), "X-Slack-Signature": "v0=" + "0" * 64}),
    ],
    ids=["missing", "forged", "stale", "future", "altered", "bad-timestamp", "zero-sig"],
)
async def test_bad_signatures_get_401_and_cause_nothing(slack, make):
    body, headers = make(command_body(text="hunter2", response_url=slack.fake.response_url()))
    status, _ = await slack.send(body, headers)
    assert status == 401
    data = payload("view_submission")
    data["view"]["state"]["values"] = form_values()
    body, headers = make(interactive_body(data).replace("hunter2", "hunter2"))
    status, _ = await slack.send(body, headers)
    assert status == 401
    await slack.settle()
    assert [c.method for c in slack.fake.calls] == []


async def test_without_slack_credentials_reveal_pages_still_work(served):
    async with aiohttp.ClientSession() as http:
        async with http.post(served.url + "/slack/events", data="x") as response:
            assert response.status == 503
            assert "SLACK_SIGNING_SECRET" in await response.text()
    link = (await served.service.create("no slack", ttl=60)).link
    assert (await reveal(served, link))[0] == 200


async def test_unexpected_failure_tells_the_user_calmly(slack):
    slack.fake.fail("views.open", status=200, body={"ok": False, "error": "expired_trigger_id"})
    started = time.monotonic()
    status, _ = await slack.command("")
    # A failure right after the ack must not swallow the ack (Slack would time out at 3 s).
    assert status == 200 and time.monotonic() - started < 2.5
    message = (await slack.fake.wait_for("response_url"))[0]
    assert "Something went wrong on our side" in message["text"]
    assert "Traceback" not in message["text"] and "expired_trigger_id" not in message["text"]


async def test_generate_makes_a_password_shows_it_once_and_links_to_it(slack):
    from bot import passwords

    status, body = await slack.command("generate 24 --no-symbols")
    assert (status, body) == (200, "")
    message = (await slack.fake.wait_for("response_url"))[0]
    shown = json.dumps(message["blocks"])
    password = shown.split("```")[1]
    assert len(password) == 24 and not set(password) & set(passwords.SYMBOLS)
    assert password not in message["text"]  # nor the link: notifications show the text
    link = find_link(message)
    code, answer = await reveal(slack.served, link)
    assert decrypt_answer(link, answer) == password

    await slack.command("generate")
    default = (await slack.fake.wait_for("response_url", 2))[1]
    import html

    shown = default["blocks"][1]["text"]["text"].split("```")[1]
    password = html.unescape(shown)  # Slack mrkdwn escapes &, < and >
    assert len(password) == 20
    link = find_link(default)
    code, answer = await reveal(slack.served, link)
    assert decrypt_answer(link, answer) == password


@pytest.mark.parametrize("flag", ["\u2014no-symbols", "\u2013no-symbols", "\u2212\u2212no-symbols"])
async def test_generate_takes_no_symbols_as_a_phone_types_it(slack, flag):
    """iOS Smart Punctuation turns `--` into an em dash: the flag still counts."""
    from bot import passwords

    status, body = await slack.command(f"generate 24 {flag}")
    assert (status, body) == (200, "")
    message = (await slack.fake.wait_for("response_url"))[0]
    password = json.dumps(message["blocks"]).split("```")[1]
    assert len(password) == 24 and not set(password) & set(passwords.SYMBOLS)


def test_a_subcommand_gets_the_words_after_its_own_even_after_leading_blanks():
    from handlers.payloads import after_first_word

    assert after_first_word("  request <@U1> the DB") == "<@U1> the DB"
    assert after_first_word("\trequest\n the DB ") == "the DB "
    assert after_first_word(" token ") == "" and after_first_word("") == ""


@pytest.mark.parametrize("args", ["generate 3", "generate 999", "generate long", "generate 9 9"])
async def test_generate_with_bad_arguments_says_how_to_use_it(slack, args):
    status, body = await slack.command(args)
    answer = json.loads(body)
    assert "Usage: `/secret generate [length] [--no-symbols]`" in answer["text"]
    await slack.settle()
    assert slack.fake.of("response_url") == []


async def test_help_lists_every_command(slack):
    _, body = await slack.command("help")
    text = json.loads(body)["text"]
    # <text> is escaped: Slack would read a bare <text> as a link.
    for usage in ("`/secret`", "`/secret &lt;text&gt;`", "`/secret generate", "`/secret help`"):
        assert usage in text
