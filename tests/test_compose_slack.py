"""`/secret compose` end to end: Slack hands out the compose link, Chromium writes the
secret, and neither Slack nor the app's log ever holds the secret's text or bytes."""

from __future__ import annotations

import json
import logging
import os
import re

from bot import crypto
from bot.logs import CHATTY_LIBRARIES, LIBRARY_LOGGERS
from handlers import blocks
from tests.slack_fake import interactive_body, payload
from tests.slack_harness import SlackHarness, form_values
from tests.support.compose import upload
from tests.support.links import post_reveal
from tests.test_compose import compose_in_page, reveal_in_page

COMPOSE = re.compile(r"https?://[^\s|>]+/c/[A-Za-z0-9_-]{43}")
CREATOR = "U2147483697"
TEXT_CANARY = "COMPOSE-CANARY-typed-in-the-browser"


def compose_link_in(message: dict) -> str:
    """The compose link where the person reads it: in the blocks, never in `text`."""
    assert not COMPOSE.search(message.get("text", ""))
    found = COMPOSE.search(json.dumps(message.get("blocks", [])))
    assert found, message
    return found.group(0)


async def ask_for_compose_link(slack: SlackHarness, text: str = "compose") -> str:
    hooks = len(slack.fake.of("response_url"))
    status, _ = await slack.command(text)
    assert status == 200
    return compose_link_in((await slack.fake.wait_for("response_url", hooks + 1))[-1])


def in_modal(slack: SlackHarness, kind: str, view: dict, values: dict, **fields) -> dict:
    """A payload from inside the modal the app last opened, as Slack sends it: that view's
    id and current hash (the fake refuses views.update for any other), the state typed into
    it, and no channel or response_url (a modal has neither)."""
    view_id = slack.fake.opened[-1]
    data = payload(kind)
    data["view"].update(
        id=view_id,
        root_view_id=view_id,
        hash=slack.fake.views[view_id],
        callback_id=view.get("callback_id", ""),
        private_metadata=view.get("private_metadata", ""),
        blocks=view["blocks"],
        state={"values": values},
    )
    if "container" in data:
        data["container"]["view_id"] = view_id
    data.update(fields)
    return data


def click_compose_button(slack: SlackHarness, view: dict, values: dict) -> dict:
    data = in_modal(slack, "block_actions_in_modal", view, values)
    data["actions"][0].update(
        action_id=blocks.COMPOSE_ACTION,
        block_id=blocks.COMPOSE_BLOCK,
        text=blocks.plain("Write it in my browser instead"),
    )
    return data


def picked(user: str) -> dict:
    """The compose picker's state, as Slack sends a users_select's choice."""
    return {
        blocks.RECIPIENT_BLOCK: {
            blocks.RECIPIENT_SELECT: {"type": "users_select", "selected_user": user}
        }
    }


async def compose_link_for(slack: SlackHarness, recipient: str, text: str = "compose @bob") -> str:
    """`/secret compose @bob` as Slack sends it (a typed @name, not an id: the command does not
    escape mentions) → the picker → Get link with `recipient` picked → the compose link."""
    opened, updated = len(slack.fake.of("views.open")), len(slack.fake.of("views.update"))
    status, _ = await slack.command(text)
    assert status == 200
    view = (await slack.fake.wait_for("views.open", opened + 1))[-1]["view"]
    assert view["callback_id"] == blocks.COMPOSE_PICK_CALLBACK
    submission = in_modal(slack, "view_submission", view, picked(recipient))
    status, answer = await slack.send(interactive_body(submission))
    assert status == 200 and json.loads(answer)["response_action"] == "update"
    update = (await slack.fake.wait_for("views.update", updated + 1))[-1]
    assert update["view_id"] == slack.fake.opened[-1]
    return compose_link_in({"blocks": update["view"]["blocks"]})


def everything_slack_received(slack: SlackHarness) -> str:
    return json.dumps([call.params for call in slack.fake.calls])


def debug_everywhere(caplog) -> None:
    """LOG_LEVEL=DEBUG as `oncelink serve` sets it (bot.logs.configure_logging): everything
    at DEBUG, the Slack libraries held at INFO, where they print no bodies."""
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp.access", "bot", "handlers"):
        caplog.set_level(logging.DEBUG, logger=name)
    for name in (*CHATTY_LIBRARIES, *LIBRARY_LOGGERS):
        caplog.set_level(max(logging.DEBUG, logging.INFO), logger=name)


async def test_secret_compose_to_a_link_that_reveals_once_and_slack_never_sees_it(
    slack, page, caplog
):
    debug_everywhere(caplog)
    compose = await ask_for_compose_link(slack)
    link = await compose_in_page(page, compose, text=TEXT_CANARY)
    other = await page.context.new_page()
    assert await reveal_in_page(other, link) == TEXT_CANARY
    status, _ = await post_reveal(slack.served.url, link)
    assert status == 410  # once
    await slack.settle()
    # The creator hears of the reveal, as for any secret they made.
    receipts = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert any("revealed" in m.get("text", "") for m in receipts)
    seen = everything_slack_received(slack)
    key = link.split("#", 1)[1]
    for forbidden in (TEXT_CANARY, key, link.split("#")[0].rsplit("/", 1)[-1]):
        assert forbidden not in seen
        assert forbidden not in caplog.text
    assert logging.getLogger("bot.compose").isEnabledFor(logging.DEBUG)  # it really ran so
    assert compose.rsplit("/", 1)[-1] not in caplog.text  # nor the compose token


async def test_a_composed_file_passed_on_in_slack_carries_no_bytes_name_or_text(slack, caplog):
    debug_everywhere(caplog)
    compose = await compose_link_for(slack, "UBOB")
    data = b"FILE-CANARY-" + os.urandom(64 * 1024)
    plaintext = crypto.file_plaintext("FILE-CANARY-name.env", "text/x-canary", data)
    status, answer, link = await upload(
        compose, slack.served.url, plaintext, ttl=86400, pass_on=True
    )
    assert status == 200, answer
    dms = await slack.fake.wait_for("chat.postMessage")
    to_bob = [m for m in dms if m.get("channel") == "UBOB"]
    assert to_bob and link in json.dumps(to_bob[0]["blocks"])  # the link, as the page said
    assert link not in to_bob[0]["text"]
    await slack.settle()
    seen = everything_slack_received(slack)
    for forbidden in (b"FILE-CANARY", data[-48:], crypto.b64encode(data[-48:]).encode()):
        assert forbidden not in seen.encode()
        assert forbidden not in caplog.text.encode()


async def test_the_pass_on_box_is_offered_only_with_someone_picked_and_off_by_default(slack, page):
    await page.goto(await ask_for_compose_link(slack))
    assert await page.locator("#pass-on").count() == 0
    await page.goto(await compose_link_for(slack, "UBOB"))
    box = page.locator("#pass-on")
    assert not await box.is_checked()
    assert "passes the link" in await page.locator("#compose-form").inner_text()


async def test_a_composed_secret_is_on_the_creators_list_and_burns(slack):
    compose = await ask_for_compose_link(slack)
    status, answer, link = await upload(compose, slack.served.url, b"to burn", ttl=3600)
    assert status == 200
    secret_id = str(answer["secret_id"])
    hooks = len(slack.fake.of("response_url"))
    await slack.command("list")
    listed = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    assert secret_id in json.dumps(listed["blocks"])
    await slack.click_burn(secret_id, user=CREATOR)
    await slack.settle()
    status, _ = await post_reveal(slack.served.url, link)
    assert status == 410
    # Nobody else can burn, or upload to, someone's compose link twice.
    status, answer, _ = await upload(compose, slack.served.url, b"again", ttl=3600)
    assert status == 410 and answer["error"] == "gone"


async def test_the_forms_button_turns_the_modal_into_a_compose_link(slack, page):
    view = await slack.open_modal()
    assert blocks.COMPOSE_ACTION in json.dumps(view["blocks"])
    data = click_compose_button(slack, view, form_values(secret="", recipient="UBOB"))
    assert "channel" not in data and "response_url" not in data  # a click inside a modal
    status, _ = await slack.send(interactive_body(data))
    assert status == 200
    updated = (await slack.fake.wait_for("views.update"))[-1]
    assert updated["view_id"] == slack.fake.opened[-1]
    compose = compose_link_in({"blocks": updated["view"]["blocks"]})
    link = await compose_in_page(page, compose, text="from the button")
    assert await reveal_in_page(await page.context.new_page(), link) == "from the button"
    await slack.settle()
    # The receipt names the channel the form was opened in, taken from the modal's
    # private_metadata: the click itself carries no channel.
    receipts = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert any("in <#C2147483705>" in json.dumps(m) for m in receipts), receipts


async def test_the_form_says_to_choose_the_browser_before_typing(slack):
    # Whatever is typed in the form reaches Slack and the app with the button's click (the
    # view's state), so the form says so where the secret is typed, before it is.
    view = await slack.open_modal()
    secret = next(b for b in view["blocks"] if b.get("block_id") == blocks.SECRET_BLOCK)
    assert "passes through Slack" in secret["hint"]["text"]
    assert "Write it in my browser instead (below) before you type" in secret["hint"]["text"]


async def test_a_double_click_on_the_compose_button_changes_the_modal_once(slack, caplog):
    view = await slack.open_modal()
    first = click_compose_button(slack, view, form_values(secret=""))
    second = click_compose_button(slack, view, form_values(secret=""))  # the same hash
    for data in (first, second):
        status, _ = await slack.send(interactive_body(data))
        assert status == 200
    await slack.settle()
    updates = slack.fake.of("views.update")
    assert len(updates) == 2
    assert {u.get("hash") for u in updates} == {first["view"]["hash"]}
    # Slack refused the second (hash_conflict): the person's doing, not a fault.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not slack.fake.of("chat.postEphemeral") and not slack.fake.of("chat.postMessage")


async def test_a_compose_click_in_a_modal_closed_meanwhile_is_no_error(slack, caplog):
    view = await slack.open_modal()
    data = click_compose_button(slack, view, form_values(secret=""))
    del slack.fake.views[slack.fake.opened[-1]]  # closed: Slack forgets the view
    status, _ = await slack.send(interactive_body(data))
    assert status == 200
    await slack.settle()
    assert len(slack.fake.of("views.update")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not slack.fake.of("chat.postEphemeral") and not slack.fake.of("chat.postMessage")


async def test_secret_compose_at_someone_asks_whom_and_passes_the_link_to_them(slack):
    compose = await compose_link_for(slack, "UBOB", text="compose @bob")
    status, answer, link = await upload(
        compose, slack.served.url, b"for bob", ttl=3600, pass_on=True
    )
    assert status == 200, answer
    dms = await slack.fake.wait_for("chat.postMessage")
    assert any(m.get("channel") == "UBOB" and link in json.dumps(m["blocks"]) for m in dms)


async def test_an_escaped_mention_after_compose_is_picked_already(slack):
    opened = len(slack.fake.of("views.open"))
    await slack.command("compose <@UBOB|bob>")  # pasted as Slack's own markup
    view = (await slack.fake.wait_for("views.open", opened + 1))[-1]["view"]
    assert '"initial_user": "UBOB"' in json.dumps(view)


async def test_a_slow_users_info_still_gives_the_compose_link_in_time(slack):
    slack.fake.slow("users.info", 4)
    compose = await compose_link_for(slack, "UBOB")
    assert compose
    assert all("timeout" not in params for params in slack.fake.of("users.info"))


async def test_compose_links_count_against_the_creation_limit(store, fake_slack):
    from bot.config import Limit
    from tests.support.app import serve, slack_settings

    served = await serve(slack_settings(fake_slack, rate_limit_create=Limit(1, 3600)), store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        await ask_for_compose_link(slack)
        hooks = len(fake_slack.of("response_url"))
        status, answer = await slack.command("compose")
        assert status == 200 and "many secrets in a short time" in answer
        await slack.settle()
        assert len(fake_slack.of("response_url")) == hooks  # no second compose link
    finally:
        await served.runner.cleanup()
