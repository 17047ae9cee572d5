"""Bound secrets, requests, lists, App Home and workspace settings end to end: signed
requests in, the fake Slack's records out."""

from __future__ import annotations

import json
import time

from handlers import blocks, home_blocks
from tests.slack_fake import ADMIN
from tests.slack_harness import LINK, SlackHarness, find_link, form_values

CREATOR = "U2147483697"
BOB = "UBOB00001"
MALLORY = "UMALLORY1"


def all_calls_text(slack: SlackHarness) -> str:
    return json.dumps([call.params for call in slack.fake.calls])


def button(message: dict, action_id: str) -> dict:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button")


def shown_secret(view: dict) -> str:
    """The secret as a modal shows it: preformatted rich text, chunk after chunk."""
    return "".join(
        element["text"]
        for block in view["blocks"]
        if block["type"] == "rich_text"
        for part in block["elements"]
        for element in part["elements"]
    )


async def bound_secret(slack: SlackHarness, **form) -> tuple[dict, dict]:
    """Share through the modal with "only the recipient"; the recipient's DM and the
    creator's confirmation."""
    view = await slack.open_modal()
    values = form_values(recipient=BOB, bound=True, **form)
    assert await slack.submit(values, view["private_metadata"]) == (200, "")
    confirmation = (await slack.fake.wait_for("response_url"))[-1]
    dm = [m for m in await slack.fake.wait_for("chat.postMessage") if m["channel"] == BOB][-1]
    return dm, confirmation


async def test_bound_secret_reaches_only_the_recipient_as_a_button_never_as_a_link(slack):
    dm, confirmation = await bound_secret(slack, secret="root: pa$$ <w0rd> & `x`", note="VPN")
    assert LINK.search(all_calls_text(slack)) is None  # no link anywhere, to anyone
    assert "only they can open it" in json.dumps(confirmation["blocks"])
    assert "VPN" in json.dumps(dm["blocks"])
    value = json.loads(button(dm, blocks.REVEAL_ACTION)["value"])
    secret_id = value["s"]
    assert (await slack.service.status(secret_id)).attempts_left == 5

    # The recipient clicks Reveal: a window opens at once, then shows the secret.
    assert (await slack.click(blocks.REVEAL_ACTION, json.dumps(value), BOB, "dm"))[0] == 200
    update = (await slack.fake.wait_for("views.update"))[0]
    assert update["view_id"] == slack.fake.opened[-1]  # the window views.open had just opened
    assert shown_secret(update["view"]) == "root: pa$$ <w0rd> & `x`"
    replaced = [
        m for m in await slack.fake.wait_for("response_url", 2) if m.get("replace_original")
    ]
    assert "You revealed" in replaced[-1]["text"]
    assert blocks.REVEAL_ACTION not in json.dumps(replaced[-1])  # the key left the message
    receipt = [m for m in await slack.fake.wait_for("chat.postMessage", 2) if m is not dm]
    assert receipt[-1]["channel"] == CREATOR and "was revealed" in json.dumps(receipt[-1])

    # A second click (say, on another device's stale copy) finds it gone.
    await slack.click(blocks.REVEAL_ACTION, json.dumps(value), BOB, "dm2")
    gone = (await slack.fake.wait_for("response_url", 3))[-1]
    await slack.settle()
    assert "gone" in gone["text"] and len(slack.fake.of("views.update")) == 1


async def test_someone_else_clicking_is_refused_and_nothing_burns(slack):
    dm, _ = await bound_secret(slack, secret="for bob only")
    value = json.loads(button(dm, blocks.REVEAL_ACTION)["value"])

    # Mallory clicks a forwarded copy: refused before anything is touched.
    await slack.click(blocks.REVEAL_ACTION, json.dumps(value), MALLORY, "mallory")
    refusal = (await slack.fake.wait_for("response_url", 2))[-1]
    assert "sent to someone else" in refusal["text"]

    # Mallory crafts the value to name herself: the store still refuses, as the proof it
    # checks is bound to Bob.
    await slack.click(blocks.REVEAL_ACTION, json.dumps({**value, "r": MALLORY}), MALLORY, "m2")
    update = (await slack.fake.wait_for("views.update"))[0]
    assert "sent to someone else" in json.dumps(update["view"])
    assert shown_secret(update["view"]) == ""
    assert (await slack.service.status(value["s"])).attempts_left == 5

    # The same link shape in a browser cannot open it either.
    link = f"{slack.served.url}/s/{value['s']}#{value['k']}"
    from tests.support.links import post_reveal

    status, answer = await post_reveal(slack.served.url, link)
    assert (status, answer["error"]) == (403, "broken_link")
    assert (await slack.service.status(value["s"])).attempts_left == 5

    await slack.click(blocks.REVEAL_ACTION, json.dumps(value), BOB, "bob")
    update = (await slack.fake.wait_for("views.update", 2))[-1]
    assert shown_secret(update["view"]) == "for bob only"


async def test_bound_secret_with_a_passphrase_asks_for_it_in_the_modal(slack):
    dm, _ = await bound_secret(slack, secret="pp-secret", passphrase="open sesame")
    value = button(dm, blocks.REVEAL_ACTION)["value"]
    await slack.click(blocks.REVEAL_ACTION, value, BOB, "dm")
    modal = (await slack.fake.wait_for("views.open", 2))[-1]["view"]
    assert modal["callback_id"] == blocks.PASSPHRASE_MODAL
    await slack.settle()
    assert shown_secret(modal) == "" and slack.fake.of("views.update") == []

    def typed(passphrase: str) -> dict:
        return {
            blocks.PASSPHRASE_BLOCK: {
                blocks.PASSPHRASE_INPUT: {"type": "plain_text_input", "value": passphrase}
            }
        }

    status, body = await slack.submit_view(
        blocks.PASSPHRASE_MODAL, typed("open sesamE"), modal["private_metadata"], BOB
    )
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert "4 tries left" in answer["errors"][blocks.PASSPHRASE_BLOCK]

    status, body = await slack.submit_view(
        blocks.PASSPHRASE_MODAL, typed("open sesame"), modal["private_metadata"], MALLORY
    )
    assert "sent to someone else" in body

    status, body = await slack.submit_view(
        blocks.PASSPHRASE_MODAL, typed("open sesame"), modal["private_metadata"], BOB
    )
    answer = json.loads(body)
    assert answer["response_action"] == "update"
    assert shown_secret(answer["view"]) == "pp-secret"
    replaced = await slack.fake.wait_for("response_url", 2)
    assert "You revealed" in replaced[-1]["text"]


async def test_only_the_recipient_needs_a_recipient(slack):
    view = await slack.open_modal()
    status, body = await slack.submit(form_values(bound=True), view["private_metadata"])
    answer = json.loads(body)
    assert answer["errors"] == {blocks.RECIPIENT_BLOCK: "Choose the person who alone can open it."}


async def test_undeliverable_bound_secret_is_burned_and_the_creator_told(slack):
    slack.fake.fail("chat.postMessage", times=3, body={"ok": False, "error": "user_not_found"})
    view = await slack.open_modal()
    await slack.submit(form_values(recipient=BOB, bound=True), view["private_metadata"])
    told = (await slack.fake.wait_for("response_url"))[-1]
    assert "deleted right away" in told["text"]
    assert (await slack.service.my_secrets(f"T0001:{CREATOR}"))[0].outcome == "burned"


async def test_request_a_secret_round_trip(slack):
    status, _ = await slack.command("request <@UALICE001|alice>  the staging   DB password")
    assert status == 200
    modal = (await slack.fake.wait_for("views.open"))[0]["view"]
    assert modal["callback_id"] == blocks.REQUEST_MODAL
    ask = modal["blocks"][0]["element"]
    assert ask["initial_user"] == "UALICE001"
    assert modal["blocks"][1]["element"]["initial_value"] == "the staging DB password"

    values = {
        blocks.ASK_BLOCK: {
            blocks.ASK_SELECT: {"type": "users_select", "selected_user": "UALICE001"}
        },
        blocks.NOTE_BLOCK: {
            blocks.NOTE_INPUT: {"type": "plain_text_input", "value": "the staging DB password"}
        },
    }
    status, body = await slack.submit_view(
        blocks.REQUEST_MODAL, values, modal["private_metadata"], CREATOR
    )
    assert (status, body) == (200, "")
    asked = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert asked["channel"] == "UALICE001" and "staging DB" in json.dumps(asked["blocks"])
    told = (await slack.fake.wait_for("response_url"))[0]
    assert "Asked <@UALICE001>" in told["text"]
    request_id = button(asked, blocks.ANSWER_ACTION)["value"]

    # Someone else cannot answer it.
    await slack.click(blocks.ANSWER_ACTION, request_id, MALLORY, "mallory")
    assert "someone else" in (await slack.fake.wait_for("response_url", 2))[-1]["text"]

    await slack.click(blocks.ANSWER_ACTION, request_id, "UALICE001", "alice")
    answer_modal = (await slack.fake.wait_for("views.open", 2))[-1]["view"]
    assert answer_modal["callback_id"] == blocks.ANSWER_MODAL
    typed = {
        blocks.SECRET_BLOCK: {
            blocks.SECRET_INPUT: {"type": "plain_text_input", "value": "pg://s3cr3t"}
        }
    }
    status, body = await slack.submit_view(
        blocks.ANSWER_MODAL, typed, answer_modal["private_metadata"], MALLORY
    )
    assert "expired or was already answered" in body
    status, body = await slack.submit_view(
        blocks.ANSWER_MODAL, typed, answer_modal["private_metadata"], "UALICE001"
    )
    assert (status, body) == (200, "")
    calls = await slack.fake.wait_for("chat.postMessage", 3)
    to_requester = [m for m in calls if m["channel"] == CREATOR and "blocks" in m][0]
    value = button(to_requester, blocks.REVEAL_ACTION)["value"]
    assert LINK.search(all_calls_text(slack)) is None

    # Answered once: a second answer is refused, and the requester reveals it.
    status, body = await slack.submit_view(
        blocks.ANSWER_MODAL, typed, answer_modal["private_metadata"], "UALICE001"
    )
    assert "expired or was already answered" in body
    await slack.click(blocks.REVEAL_ACTION, value, CREATOR, "requester")
    update = (await slack.fake.wait_for("views.update"))[0]
    assert shown_secret(update["view"]) == "pg://s3cr3t"
    assert any("You answered" in m.get("text", "") for m in slack.fake.of("response_url"))


async def test_secret_list_shows_waiting_and_outcomes_and_burns_from_the_list(slack):
    for secret in ("first", "second"):
        view = await slack.open_modal()
        await slack.submit(
            form_values(secret=secret, note=f"note {secret}"), view["private_metadata"]
        )
    messages = await slack.fake.wait_for("response_url", 2)
    from tests.support.links import post_reveal

    assert (await post_reveal(slack.served.url, find_link(messages[0])))[0] == 200
    await slack.service.drain()
    await slack.command("list", response_url=slack.fake.response_url("list"))
    listing = (await slack.fake.wait_for("response_url", 3))[-1]
    text = json.dumps(listing["blocks"])
    assert listing["response_type"] == "ephemeral"
    assert "note first" in text and "Revealed" in text and "note second" in text
    assert LINK.search(text) is None and 'first"' not in text
    burn = button(listing, home_blocks.LIST_BURN_ACTION)
    await slack.click(home_blocks.LIST_BURN_ACTION, burn["value"], CREATOR, "list")
    refreshed = (await slack.fake.wait_for("response_url", 4))[-1]
    assert refreshed["replace_original"] is True and "Burned" in json.dumps(refreshed["blocks"])
    assert (await post_reveal(slack.served.url, find_link(messages[1])))[0] == 410


async def test_app_home_lists_secrets_and_shows_settings_to_admins_only(slack):
    await slack.command("hunter2")
    await slack.fake.wait_for("response_url")
    await slack.event({"type": "app_home_opened", "user": CREATOR, "channel": "D1", "tab": "home"})
    home = (await slack.fake.wait_for("views.publish"))[0]
    assert home["user_id"] == CREATOR and home["view"]["type"] == "home"
    text = json.dumps(home["view"])
    assert ":lock: Waiting" in text and "Workspace settings" not in text
    button(home["view"], home_blocks.LIST_BURN_ACTION)

    await slack.event({"type": "app_home_opened", "user": ADMIN, "channel": "D2", "tab": "home"})
    admin_home = (await slack.fake.wait_for("views.publish", 2))[-1]
    assert "Workspace settings" in json.dumps(admin_home["view"])
    assert ":lock: Waiting" not in json.dumps(admin_home["view"])  # the admin's own list is empty


async def test_admin_narrows_expiry_and_turns_receipts_off_for_the_workspace(slack):
    # A non-admin's forged change does nothing.
    await slack.click(home_blocks.PREF_MAX_TTL, "", CREATOR, container="view", selected="300")
    await slack.settle()
    assert slack.fake.of("views.publish") == []
    view = await slack.open_modal()
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]][-1] == "604800"

    await slack.click(home_blocks.PREF_MAX_TTL, "", ADMIN, container="view", selected="3600")
    await slack.fake.wait_for("views.publish")
    await slack.click(home_blocks.PREF_RECEIPTS, "", ADMIN, container="view", selected="off")
    republished = (await slack.fake.wait_for("views.publish", 2))[-1]
    assert "at most 1 hour, receipts off" in json.dumps(republished["view"])

    view = await slack.open_modal()
    expiry = view["blocks"][1]["element"]
    assert [o["value"] for o in expiry["options"]] == ["300", "3600"]
    assert expiry["initial_option"]["value"] == "3600"
    status, body = await slack.submit(form_values(ttl=86400), view["private_metadata"])
    assert "longest expiry allowed is 1 hour" in body

    before = time.time()
    await slack.command("inline secret")
    message = [m for m in await slack.fake.wait_for("response_url") if "blocks" in m][-1]
    link = find_link(message)
    secret_id = link.split("/s/")[1].split("#")[0]
    assert (await slack.service.status(secret_id)).expires_at <= before + 3601

    from tests.support.links import post_reveal

    assert (await post_reveal(slack.served.url, link))[0] == 200
    view = await slack.open_modal()
    await slack.submit(form_values(ttl=300, note="never read"), view["private_metadata"])
    await slack.fake.wait_for("response_url", 2)
    assert await slack.service.sweep_expired(time.time() + 400) == 1  # it did expire unread
    await slack.settle()
    receipts = [
        m
        for m in slack.fake.of("chat.postMessage")
        if "revealed" in json.dumps(m) or "expired unread" in json.dumps(m)
    ]
    assert receipts == []  # neither kind of receipt in this workspace


async def test_creator_is_told_once_when_a_secret_expires_unread(slack):
    view = await slack.open_modal()
    await slack.submit(form_values(ttl=300, recipient=BOB, note="wifi"), view["private_metadata"])
    await slack.fake.wait_for("response_url")
    later = time.time() + 300 + 60
    assert await slack.service.sweep_expired(later) == 1
    assert await slack.service.sweep_expired(later) == 0
    assert "oncelink_secrets_expired_unread_total 1" in slack.service.metrics.render()
    await slack.service.drain()
    receipts = [m for m in slack.fake.of("chat.postMessage") if "expired unread" in json.dumps(m)]
    assert len(receipts) == 1 and receipts[0]["channel"] == CREATOR
    assert "wifi" in json.dumps(receipts[0]["blocks"]) and f"<@{BOB}>" in json.dumps(receipts[0])


async def test_help_lists_every_command(slack):
    status, body = await slack.command("help")
    text = json.loads(body)["text"]
    for usage in ("/secret generate", "/secret request", "/secret list", "App Home", "Reveal"):
        assert usage in text


async def test_when_slack_cannot_open_the_window_nothing_is_used_up(slack):
    dm, _ = await bound_secret(slack, secret="still here")
    value = button(dm, blocks.REVEAL_ACTION)["value"]
    slack.fake.fail("views.open", status=200, body={"ok": False, "error": "expired_trigger_id"})
    await slack.click(blocks.REVEAL_ACTION, value, BOB, "late")
    told = (await slack.fake.wait_for("response_url", 2))[-1]
    assert "nothing was used up" in told["text"]
    assert (await slack.service.status(json.loads(value)["s"])).attempts_left == 5
    await slack.click(blocks.REVEAL_ACTION, value, BOB, "again")
    assert shown_secret((await slack.fake.wait_for("views.update"))[0]["view"]) == "still here"


async def test_a_long_typed_request_note_opens_the_form_whole_with_its_length_said(slack):
    """`/secret request @bob <long note>` used to cut the note to the form's limit without a
    word: the form now opens with all of it (smart quotes taken off) and says how long it
    is; asking with it as it is is refused at submission, the form open, nothing lost."""
    note = "the " + "very " * 40 + "long note"
    status, body = await slack.command(f"request <@UALICE001|alice> \u201c{note}\u201d")
    assert (status, body) == (200, "")
    modal = (await slack.fake.wait_for("views.open"))[0]["view"]
    note_block = modal["blocks"][1]
    assert note_block["element"]["initial_value"] == note
    assert f"{len(note)} characters" in note_block["hint"]["text"]
    values = {
        blocks.ASK_BLOCK: {
            blocks.ASK_SELECT: {"type": "users_select", "selected_user": "UALICE001"}
        },
        blocks.NOTE_BLOCK: {blocks.NOTE_INPUT: {"type": "plain_text_input", "value": note}},
    }
    status, body = await slack.submit_view(
        blocks.REQUEST_MODAL, values, modal["private_metadata"], CREATOR
    )
    assert json.loads(body)["errors"] == {
        blocks.NOTE_BLOCK: f"At most {blocks.NOTE_MAX} characters."
    }
    await slack.settle()
    assert slack.fake.of("chat.postMessage") == []


async def test_a_typed_request_note_beyond_what_the_form_holds_is_refused_in_a_sentence(slack):
    status, body = await slack.command("request <@UALICE001|alice> " + "x" * 3001)
    answer = json.loads(body)
    assert "3,001 characters" in answer["text"] and "Nobody was asked" in answer["text"]
    await slack.settle()
    assert slack.fake.of("views.open") == []


def test_request_text_takes_smart_quotes_off_the_note_and_never_cuts_it():
    from handlers.requests import parse_request_text

    assert parse_request_text("<@U1> \u201cthe DB\u201d") == ("U1", "the DB")
    assert parse_request_text("@bob \u2018the DB\u2019") == ("", "the DB")
    assert parse_request_text("<@U1> " + "y" * 200) == ("U1", "y" * 200)


def test_request_text_reads_an_escaped_mention_and_drops_a_plain_one():
    from handlers.requests import parse_request_text

    assert parse_request_text(" <@UALICE001|alice> the  DB ") == ("UALICE001", "the DB")
    assert parse_request_text(" <@W0ALICE> ") == ("W0ALICE", "")
    assert parse_request_text(" @alice the DB password") == ("", "the DB password")
    assert parse_request_text(" the DB password") == ("", "the DB password")
